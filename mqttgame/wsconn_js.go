//go:build js

package mqttgame

import (
	"context"
	"sync"

	"github.com/coder/websocket"
)

// maxGathered bounds a message of gathered packets, under the 32 KiB
// that brokers' WebSocket servers commonly accept in one message by
// default. A larger packet goes alone.
const maxGathered = 16 << 10

// wsWriter gathers the packets written in one turn of the JavaScript
// event loop and sends them as one WebSocket message, as MQTT over
// WebSocket allows (and MQTT.js does in the browser): each message sent
// costs a crossing from Go to JavaScript, a copy into a new Uint8Array,
// the WebSocket's framing and a write on the socket, which a burst of
// publishes would otherwise pay for every packet. A packet is never split
// across messages.
//
// The first write of a turn starts a goroutine that sends what was
// gathered; in WebAssembly it runs once the writers block, before Go gives
// the event loop back, so a packet waits for no timer and no other event.
type wsWriter struct {
	mu      sync.Mutex
	buf     []byte
	pending bool  // a goroutine will send buf
	err     error // the first failed send; later writes fail with it
}

func (w *wsWriter) write(ws *websocket.Conn, p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if len(w.buf) > 0 && len(w.buf)+len(p) > maxGathered {
		if err := w.sendLocked(ws); err != nil {
			return err
		}
	}
	w.buf = append(w.buf, p...)
	if !w.pending {
		w.pending = true
		go w.flush(ws)
	}
	return nil
}

// flush sends what was gathered.
func (w *wsWriter) flush(ws *websocket.Conn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = false
	_ = w.sendLocked(ws)
}

func (w *wsWriter) sendLocked(ws *websocket.Conn) error {
	if len(w.buf) == 0 || w.err != nil {
		return w.err
	}
	// Write copies buf into JavaScript's memory before it returns.
	w.err = ws.Write(context.Background(), websocket.MessageBinary, w.buf)
	if cap(w.buf) > 4*maxGathered {
		w.buf = nil
	} else {
		w.buf = w.buf[:0]
	}
	return w.err
}

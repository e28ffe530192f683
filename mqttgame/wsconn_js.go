package mqttgame

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall/js"
	"time"

	"github.com/coder/websocket"
)

// browserConn is the browser's own WebSocket object as a net.Conn: the
// browser speaks the WebSocket protocol, and this binding crosses between
// Go and JavaScript as seldom as it can.
//
// A small JavaScript function, made once, owns the socket. It keeps the
// binary messages that arrive in a queue and wakes Go only when a Read
// waits for them, once for all the messages the browser hands over in one
// go; a Read takes as many queued bytes as fit, with one copy into Go
// memory. Writes go the other way: each packet is copied into a staging
// buffer and appended to the outgoing message, which is sent when Go
// hands the event loop back, so the packets written in one turn share one
// WebSocket message (MQTT over WebSocket lets packets share a message; a
// packet is never split across two). No crossing makes a JavaScript
// object that Go keeps, no goroutine hands a message to another, and no
// timer runs.
//
// coder/websocket's browser path, used before, woke Go for every message
// (a js.Func call), made about nine JavaScript values that Go must
// finalize for each message moved, and sent one WebSocket message per
// packet.
type browserConn struct {
	addr wsAddr
	stop func() bool // ends the watch on the connection's life

	// The socket's JavaScript side: its functions and staging buffers.
	fill, push, close, state, info js.Value
	rbuf, wbuf                     js.Value
	wake                           js.Func

	woken chan struct{} // the JavaScript side calls wake: something happened
	done  chan struct{} // closed by Close
	once  sync.Once
	freed sync.Once
}

// The staging buffers' sizes. A Read takes at most readStage bytes; a
// packet larger than writeStage is copied in pieces.
const (
	readStage  = 64 << 10
	writeStage = 64 << 10
	// gatherLimit: once the outgoing message holds this much, the next
	// packet starts a new one.
	gatherLimit = 64 << 10
)

// browserSocketJS is the body of the function that opens a socket:
// new Function("url", "protocol", "wake", "readStage", "writeStage",
// "gatherLimit", browserSocketJS). It returns the functions Go calls:
//
//	fill(max)   copies up to max queued bytes into rbuf and returns how
//	            many; 0 when none are queued (wake is called when some
//	            arrive), -1 once the socket closed and the queue is empty,
//	            -2 at a text message.
//	push(n, end) appends wbuf[0:n] to the outgoing message; end false: the
//	            packet goes on in the next push. -1: the socket is not open.
//	close(code, reason) sends what is gathered and closes the socket.
//	state()     0 opening, 1 open, 2 closed (wake is called on a change).
//	info()      [code, reason, wasClean] of the close.
//
// Once fill or state has reported the close, or close was called, wake is
// not called again and Go may release it.
const browserSocketJS = `
"use strict";
const ws = new WebSocket(url, protocol);
ws.binaryType = "arraybuffer";
const rbuf = new Uint8Array(readStage), wbuf = new Uint8Array(writeStage);
const q = []; // received messages (Uint8Array), null for a text message
let head = 0, off = 0; // reading q[head] from byte off
let state = 0, code = 0, reason = "", clean = false, text = false;
let waiting = false, wakeQueued = false, dead = false;
let out = new Uint8Array(4096), outLen = 0, inPacket = false, flushQueued = false;

// Go is woken once the browser has dispatched what it had at hand.
const wakeGo = () => {
	wakeQueued = false;
	if (waiting && !dead) { waiting = false; wake(); }
};
const poke = () => {
	if (waiting && !wakeQueued && !dead) { wakeQueued = true; queueMicrotask(wakeGo); }
};
ws.onopen = () => { state = 1; poke(); };
ws.onmessage = (e) => {
	if (text) return;
	if (typeof e.data === "string") { text = true; q.push(null); }
	else q.push(new Uint8Array(e.data));
	poke();
};
// A connection that never opens ends with an error event; some runtimes
// (Node's undici) send no close event after it.
ws.onerror = () => {
	if (state === 0) { state = 2; code = 1006; poke(); }
};
ws.onclose = (e) => {
	state = 2; code = e.code; reason = e.reason; clean = e.wasClean;
	outLen = 0;
	poke();
};

const fill = (max) => {
	if (max > rbuf.length) max = rbuf.length;
	let n = 0;
	while (head < q.length && n < max) {
		const m = q[head];
		if (m === null) {
			if (n > 0) break;
			return -2;
		}
		const k = Math.min(m.length - off, max - n);
		rbuf.set(off === 0 && k === m.length ? m : m.subarray(off, off + k), n);
		n += k; off += k;
		if (off === m.length) { q[head++] = undefined; off = 0; }
	}
	if (head === q.length) { q.length = 0; head = 0; }
	else if (head > 1024 && 2 * head > q.length) { q.splice(0, head); head = 0; }
	if (n > 0) return n;
	if (state === 2) { dead = true; return -1; }
	waiting = true;
	return 0;
};

const flush = () => {
	flushQueued = false;
	if (outLen === 0 || inPacket) return;
	const m = out.slice(0, outLen);
	outLen = 0;
	if (out.length > 2 * gatherLimit) out = new Uint8Array(4096);
	try { ws.send(m); } catch (e) {} // the close event tells
};
const push = (n, end) => {
	if (state !== 1 || ws.readyState !== 1) return -1;
	if (!inPacket && outLen >= gatherLimit) flush();
	if (outLen + n > out.length) {
		const bigger = new Uint8Array(Math.max(2 * out.length, outLen + n));
		bigger.set(out.subarray(0, outLen));
		out = bigger;
	}
	out.set(n === wbuf.length ? wbuf : wbuf.subarray(0, n), outLen);
	outLen += n;
	inPacket = !end;
	if (!flushQueued) { flushQueued = true; queueMicrotask(flush); }
	return 0;
};
const close = (closeCode, closeReason) => {
	dead = true;
	inPacket = false;
	flush();
	try { ws.close(closeCode, closeReason); } catch (e) { ws.close(); }
};
const getState = () => {
	if (state === 0) waiting = true;
	if (state === 2) dead = true;
	return state;
};
const info = () => [code, reason, clean];
return [fill, push, close, getState, info, rbuf, wbuf];
`

// newBrowserSocket is the function that opens a socket; made once.
var newBrowserSocket = sync.OnceValue(func() js.Value {
	return js.Global().Get("Function").New("url", "protocol", "wake", "readStage", "writeStage", "gatherLimit", browserSocketJS)
})

// dialBrowser opens a WebSocket to url and waits, within ctx, until it is
// open.
func dialBrowser(ctx context.Context, url string) (c *browserConn, err error) {
	c = &browserConn{addr: wsAddr(url), woken: make(chan struct{}, 1), done: make(chan struct{}), stop: func() bool { return false }}
	c.wake = js.FuncOf(func(js.Value, []js.Value) any {
		select {
		case c.woken <- struct{}{}:
		default:
		}
		return nil
	})
	defer func() {
		if r := recover(); r != nil {
			jsErr, ok := r.(js.Error)
			if !ok {
				panic(r)
			}
			c.wake.Release()
			c, err = nil, fmt.Errorf("mqttgame: cannot open a WebSocket to %s: %v", url, jsErr.Value.Get("message").String())
		}
	}()
	fns := newBrowserSocket().Invoke(url, mqttSubprotocol, c.wake, readStage, writeStage, gatherLimit)
	c.fill, c.push, c.close, c.state, c.info = fns.Index(0), fns.Index(1), fns.Index(2), fns.Index(3), fns.Index(4)
	c.rbuf, c.wbuf = fns.Index(5), fns.Index(6)
	for {
		switch c.state.Invoke().Int() {
		case 1:
			return c, nil
		case 2:
			c.free()
			return nil, fmt.Errorf("mqttgame: the WebSocket to %s did not open: %w", url, c.closeError())
		}
		select {
		case <-c.woken:
		case <-ctx.Done():
			c.closeJS(1000, "")
			return nil, ctx.Err()
		}
	}
}

// newWSConn makes c close at once when life ends.
func newWSConn(life context.Context, c *browserConn, url string) *browserConn {
	c.addr = wsAddr(url)
	c.stop = context.AfterFunc(life, func() { _ = c.CloseNow() })
	return c
}

// Read reads what has arrived, waiting for something when nothing has.
func (c *browserConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		select {
		case <-c.done:
			return 0, net.ErrClosed
		default:
		}
		n := c.fill.Invoke(min(len(p), readStage)).Int()
		switch {
		case n > 0:
			return js.CopyBytesToGo(p[:n], c.rbuf), nil
		case n == -1:
			c.free()
			return 0, c.closeError()
		case n == -2:
			_ = c.Close()
			return 0, fmt.Errorf("%w: the broker sent a text WebSocket message, MQTT needs binary ones", ErrMalformedPacket)
		}
		select {
		case <-c.woken:
		case <-c.done:
			return 0, net.ErrClosed
		}
	}
}

// closeError says how the socket closed: io.EOF for a normal close, as
// natively; otherwise the close code and reason, as a websocket.CloseError.
func (c *browserConn) closeError() error {
	info := c.info.Invoke()
	code := websocket.StatusCode(info.Index(0).Int())
	switch code {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway:
		return io.EOF
	case websocket.StatusAbnormalClosure:
		// The browser tells no more: refused, unreachable, or dropped.
		return fmt.Errorf("mqttgame: the WebSocket connection was lost (%v): %w", code, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("mqttgame: the broker closed the WebSocket connection: %w",
		websocket.CloseError{Code: code, Reason: info.Index(1).String()})
}

// Write adds p, a whole packet, to the message sent when Go next hands the
// event loop back.
func (c *browserConn) Write(p []byte) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	for sent := 0; sent < len(p); {
		n := js.CopyBytesToJS(c.wbuf, p[sent:])
		sent += n
		if c.push.Invoke(n, sent == len(p)).Int() < 0 {
			return 0, fmt.Errorf("mqttgame: writing on a closed WebSocket connection: %w", net.ErrClosed)
		}
	}
	return len(p), nil
}

// Close sends what was written and closes the socket with a normal
// closure; Read and Write fail with net.ErrClosed from then on.
func (c *browserConn) Close() error { return c.closeWith(1000, "") }

// CloseNow closes as Close does: the browser always goes through the
// closing handshake, on its own.
func (c *browserConn) CloseNow() error { return c.closeWith(1000, "") }

func (c *browserConn) closeWith(code int, reason string) error {
	err := net.ErrClosed
	c.once.Do(func() {
		err = nil
		c.stop()
		close(c.done)
		c.closeJS(code, reason)
	})
	return err
}

// closeJS closes the socket's JavaScript side, which calls wake no more.
func (c *browserConn) closeJS(code int, reason string) {
	c.close.Invoke(code, reason)
	c.free()
}

// free releases wake once the JavaScript side no longer calls it.
func (c *browserConn) free() { c.freed.Do(c.wake.Release) }

func (c *browserConn) LocalAddr() net.Addr              { return wsAddr("") }
func (c *browserConn) RemoteAddr() net.Addr             { return c.addr }
func (c *browserConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (c *browserConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (c *browserConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }

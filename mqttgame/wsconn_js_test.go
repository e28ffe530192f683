//go:build js

package mqttgame

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall/js"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestGatheredWrites writes a CONNECT and three PINGREQs in one turn of
// the event loop, on the JavaScript WebSocket of the host: they leave in
// one WebSocket message, counted by wrapping WebSocket.prototype.send,
// and the broker reads every packet whole (a CONNACK, then a PINGRESP
// for each PINGREQ).
func TestGatheredWrites(t *testing.T) {
	url := os.Getenv("MQTTGAME_TEST_BROKER")
	if url == "" {
		t.Skip("MQTTGAME_TEST_BROKER is not set: run this test through mqttgame/internal/wasmtest, which starts a broker")
	}
	proto := js.Global().Get("WebSocket").Get("prototype")
	send := proto.Get("send")
	sends := js.Global().Get("Object").New()
	sends.Set("n", 0)
	wrap := js.Global().Get("Function").New("send", "sends",
		"return function(data) { sends.n++; return send.call(this, data); };")
	proto.Set("send", wrap.Invoke(send, sends))
	defer proto.Set("send", send)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{mqttSubprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	c := newWSConn(ctx, ws, url)
	defer c.Close()

	// MQTT 5 CONNECT: clean start, keepalive 60 s, no properties, an empty
	// client identifier (the broker assigns one).
	connect := []byte{0x10, 13, 0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, 0, 60, 0, 0, 0}
	pingreq := []byte{0xc0, 0}
	for _, p := range [][]byte{connect, pingreq, pingreq, pingreq} {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}

	// The CONNACK: its type, then the rest by its length (one byte here).
	head := make([]byte, 2)
	if _, err := io.ReadFull(c, head); err != nil {
		t.Fatal(err)
	}
	if head[0] != 0x20 {
		t.Fatalf("first packet from the broker: type byte %#x, want a CONNACK (0x20)", head[0])
	}
	if _, err := io.ReadFull(c, make([]byte, head[1])); err != nil {
		t.Fatal(err)
	}
	pongs := make([]byte, 6)
	if _, err := io.ReadFull(c, pongs); err != nil {
		t.Fatal(err)
	}
	if want := bytes.Repeat([]byte{0xd0, 0}, 3); !bytes.Equal(pongs, want) {
		t.Fatalf("after the CONNACK: % x, want three PINGRESPs (% x)", pongs, want)
	}
	if n := sends.Get("n").Int(); n != 1 {
		t.Errorf("four packets written in one turn left in %d WebSocket messages, want 1", n)
	}
}

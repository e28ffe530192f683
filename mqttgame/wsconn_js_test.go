package mqttgame

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall/js"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The browser binding (browserConn) against a WebSocket server in the
// test's own JavaScript runtime: the ws package (MQTT.js's, installed
// with it by npm ci in the repository's root), scripted by each test to
// close, drop the connection mid-message or flood the client.

// wsServerJS starts a server; notify is called at every event.
const wsServerJS = `
"use strict";
let req;
try { req = require("module").createRequire(process.cwd() + "/"); req.resolve("ws"); }
catch (e) { return "the ws package is missing: run npm ci in the repository's root (" + e.message + ")"; }
const { WebSocketServer } = req("ws");
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (ps) => ps.has("mqtt") ? "mqtt" : false });
let sock = null, closed = null, pongs = 0, stopped = false;
const got = [];
const tell = () => { if (!stopped) notify(); };
wss.on("listening", tell);
wss.on("connection", (s) => {
	sock = s;
	s.on("message", (d, binary) => { got.push(binary ? new Uint8Array(d) : String(d)); tell(); });
	s.on("pong", () => { pongs++; tell(); });
	s.on("close", (code, reason) => { closed = [code, String(reason)]; tell(); });
	tell();
});
return {
	port: () => wss.address() ? wss.address().port : 0,
	connected: () => sock !== null,
	send: (b) => sock.send(b.slice()),
	sendText: (t) => sock.send(t),
	close: (code, reason) => sock.close(code, reason),
	// drop writes raw bytes on the TCP connection, then ends it.
	drop: (raw) => { sock._socket.write(raw.slice()); sock._socket.destroy(); },
	ping: () => sock.ping(),
	pongs: () => pongs,
	received: () => got.length,
	message: (i) => got[i],
	closed: () => closed,
	stop: () => { stopped = true; for (const c of wss.clients) c.terminate(); wss.close(); },
};
`

// wsTestServer is a scripted WebSocket server in this process.
type wsTestServer struct {
	t      *testing.T
	v      js.Value
	notify js.Func
	events chan struct{}
}

func newWSTestServer(t *testing.T) *wsTestServer {
	t.Helper()
	s := &wsTestServer{t: t, events: make(chan struct{}, 1)}
	s.notify = js.FuncOf(func(js.Value, []js.Value) any {
		select {
		case s.events <- struct{}{}:
		default:
		}
		return nil
	})
	s.v = js.Global().Get("Function").New("notify", wsServerJS).Invoke(s.notify)
	if s.v.Type() == js.TypeString {
		t.Fatal(s.v.String())
	}
	t.Cleanup(func() {
		s.v.Call("stop")
		s.notify.Release()
	})
	s.until("listening", func() bool { return s.v.Call("port").Int() != 0 })
	return s
}

func (s *wsTestServer) url() string {
	return fmt.Sprintf("ws://127.0.0.1:%d/mqtt", s.v.Call("port").Int())
}

// until waits for cond, checked at each of the server's events.
func (s *wsTestServer) until(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case <-s.events:
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (s *wsTestServer) send(b []byte) {
	a := js.Global().Get("Uint8Array").New(len(b))
	js.CopyBytesToJS(a, b)
	s.v.Call("send", a)
}

// messages returns what the client sent, each message as it came.
func (s *wsTestServer) messages() [][]byte {
	var out [][]byte
	for i := range s.v.Call("received").Int() {
		m := s.v.Call("message", i)
		if m.Type() == js.TypeString {
			s.t.Fatalf("message %d is text: %q", i, m.String())
		}
		b := make([]byte, m.Length())
		js.CopyBytesToGo(b, m)
		out = append(out, b)
	}
	return out
}

// dialTest connects the binding to s as the client does, through dial.
func dialTest(t *testing.T, s *wsTestServer, life context.Context) net.Conn {
	t.Helper()
	u, err := url.Parse(s.url())
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), life, u, &Options{ConnectTimeout: 20 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s.until("the connection", func() bool { return s.v.Call("connected").Bool() })
	return c
}

// readAll reads from c until it fails, returning what it read and the error.
func readAll(c net.Conn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// TestBrowserConnCloseCodes: a normal close (1000, 1001) ends the stream
// with io.EOF, after every message sent before it; any other code is an
// error giving the code and the reason, as websocket.CloseStatus reads it.
func TestBrowserConnCloseCodes(t *testing.T) {
	for _, tc := range []struct {
		code   int
		reason string
	}{
		{1000, ""}, {1001, "going away"}, {1008, "not allowed here"}, {4000, "kicked"},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			s := newWSTestServer(t)
			c := dialTest(t, s, context.Background())
			s.send([]byte("before the close"))
			s.v.Call("close", tc.code, tc.reason)
			got, err := readAll(c)
			if string(got) != "before the close" {
				t.Errorf("read %q before the close, want what was sent", got)
			}
			switch tc.code {
			case 1000, 1001:
				if err != io.EOF {
					t.Fatalf("Read: %v, want io.EOF", err)
				}
			default:
				if st := websocket.CloseStatus(err); int(st) != tc.code || !strings.Contains(err.Error(), tc.reason) {
					t.Fatalf("Read: %v (status %d), want code %d and reason %q", err, st, tc.code, tc.reason)
				}
			}
			if _, err := c.Write([]byte{0xC0, 0}); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after the broker closed: %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestBrowserConnDropMidMessage: a broker that goes away in the middle of
// a message loses that message, never a part of it, and the read fails
// with io.ErrUnexpectedEOF, as a lost connection does natively.
func TestBrowserConnDropMidMessage(t *testing.T) {
	s := newWSTestServer(t)
	c := dialTest(t, s, context.Background())
	s.send([]byte("whole"))
	// A binary frame announcing 256 bytes, of which 3 come.
	partial := js.Global().Get("Uint8Array").New(7)
	js.CopyBytesToJS(partial, []byte{0x82, 0x7e, 0x01, 0x00, 1, 2, 3})
	s.v.Call("drop", partial)
	got, err := readAll(c)
	if string(got) != "whole" {
		t.Errorf("read %q, want only the whole message", got)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Read: %v, want io.ErrUnexpectedEOF", err)
	}
}

// TestBrowserConnQueuesWhileNotReading: messages that arrive while Go
// reads nothing wait on the JavaScript side, and one Read then takes all
// of them at once, in order.
func TestBrowserConnQueuesWhileNotReading(t *testing.T) {
	s := newWSTestServer(t)
	c := dialTest(t, s, context.Background())
	var want []byte
	for i := range 100 {
		m := []byte(fmt.Sprintf("message %03d;", i))
		want = append(want, m...)
		s.send(m)
	}
	// The client answers a ping after it has taken every frame before it.
	s.v.Call("ping")
	s.until("the pong", func() bool { return s.v.Call("pongs").Int() == 1 })
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:n], want) {
		t.Fatalf("one Read took %d bytes: %q, want all %d queued, in order", n, buf[:n], len(want))
	}
}

// TestBrowserConnLargeMessages: a message larger than the staging buffers
// arrives whole over several Reads, and a packet larger than them leaves
// as one message.
func TestBrowserConnLargeMessages(t *testing.T) {
	s := newWSTestServer(t)
	c := dialTest(t, s, context.Background())
	big := make([]byte, 1<<20+123)
	for i := range big {
		big[i] = byte(i * 7)
	}
	s.send(big)
	got := make([]byte, len(big))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatal("the large message came out different")
	}
	if _, err := c.Write(big); err != nil {
		t.Fatal(err)
	}
	s.until("the large message", func() bool { return s.v.Call("received").Int() == 1 })
	if m := s.messages(); !bytes.Equal(m[0], big) {
		t.Fatalf("the server got %d bytes, want the %d written", len(m[0]), len(big))
	}
}

// TestBrowserConnGathersWrites: packets written in one turn of the event
// loop leave in one message, up to about 64 KiB; a packet is never split
// across two.
func TestBrowserConnGathersWrites(t *testing.T) {
	s := newWSTestServer(t)
	c := dialTest(t, s, context.Background())
	var packets [][]byte
	for i := range 5 {
		p := bytes.Repeat([]byte{byte('a' + i)}, 30<<10)
		packets = append(packets, p)
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	s.until("every packet", func() bool {
		n := 0
		for _, m := range s.messages() {
			n += len(m)
		}
		return n == 5*30<<10
	})
	msgs := s.messages()
	if len(msgs) >= len(packets) {
		t.Errorf("%d packets written in one turn left in %d messages", len(packets), len(msgs))
	}
	i := 0
	for _, m := range msgs {
		for len(m) > 0 {
			p := packets[i]
			if len(m) < len(p) || !bytes.Equal(m[:len(p)], p) {
				t.Fatalf("packet %d is split or altered across messages (sizes: %v)", i, sizes(msgs))
			}
			m, i = m[len(p):], i+1
		}
	}
}

func sizes(msgs [][]byte) []int {
	var n []int
	for _, m := range msgs {
		n = append(n, len(m))
	}
	return n
}

// TestBrowserConnClose: Close sends what was written, ends a Read waiting
// for data, closes normally, and makes later reads and writes fail with
// net.ErrClosed; the end of the connection's life does the same.
func TestBrowserConnClose(t *testing.T) {
	for _, how := range []string{"Close", "life"} {
		t.Run(how, func(t *testing.T) {
			s := newWSTestServer(t)
			life, end := context.WithCancel(context.Background())
			defer end()
			c := dialTest(t, s, life)
			read := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 10))
				read <- err
			}()
			if _, err := c.Write([]byte("last words")); err != nil {
				t.Fatal(err)
			}
			if how == "Close" {
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			} else {
				end()
			}
			select {
			case err := <-read:
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("the waiting Read: %v, want net.ErrClosed", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the waiting Read did not end")
			}
			s.until("the close", func() bool { return !s.v.Call("closed").IsNull() })
			if code := s.v.Call("closed").Index(0).Int(); code != 1000 {
				t.Errorf("the server saw close code %d, want 1000", code)
			}
			if m := s.messages(); len(m) != 1 || string(m[0]) != "last words" {
				t.Errorf("the server got %q, want the write before the close", m)
			}
			if _, err := c.Write([]byte{0xC0, 0}); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v, want net.ErrClosed", err)
			}
			if _, err := c.Read(make([]byte, 10)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read after Close: %v, want net.ErrClosed", err)
			}
			if err := c.Close(); !errors.Is(err, net.ErrClosed) {
				t.Errorf("a second Close: %v, want net.ErrClosed", err)
			}
		})
	}
}

// TestBrowserConnTextMessage: MQTT needs binary messages; a text one is a
// malformed packet, after the binary data before it.
func TestBrowserConnTextMessage(t *testing.T) {
	s := newWSTestServer(t)
	c := dialTest(t, s, context.Background())
	s.send([]byte("binary"))
	s.v.Call("sendText", "text")
	got, err := readAll(c)
	if string(got) != "binary" || !errors.Is(err, ErrMalformedPacket) {
		t.Fatalf("read %q, then %v; want the binary message, then ErrMalformedPacket", got, err)
	}
}

// TestBrowserConnDialErrors: a refused connection and a dial that runs
// out of time fail with errors that say so.
func TestBrowserConnDialErrors(t *testing.T) {
	// Nothing listens on the discard port.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := dialBrowser(ctx, "ws://127.0.0.1:9/mqtt"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("dialling a closed port: %v, want io.ErrUnexpectedEOF", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if _, err := dialBrowser(ctx, "ws://127.0.0.1:9/mqtt"); !errors.Is(err, context.Canceled) {
		t.Errorf("dialling with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := dialBrowser(context.Background(), "not a url"); err == nil || !strings.Contains(err.Error(), "cannot open") {
		t.Errorf("dialling a bad URL: %v, want an error", err)
	}
}

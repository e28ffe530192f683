//go:build !js

package mqttgame

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
)

// wsPair returns a packetConn over a real WebSocket connection, and the
// server's side of it.
func wsPair(t *testing.T, limit int) (*packetConn, *websocket.Conn) {
	t.Helper()
	serverSide := make(chan *websocket.Conn, 1)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{mqttSubprotocol}})
		if err != nil {
			return
		}
		c.SetReadLimit(-1)
		serverSide <- c
		<-done
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{Subprotocols: []string{mqttSubprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	pc := newPacketConn(newWSConn(context.Background(), ws, "test"), limit, nil, nil, nil, nil)
	t.Cleanup(func() { pc.Close() })
	s := <-serverSide
	t.Cleanup(func() { s.CloseNow() })
	return pc, s
}

// TestPacketConnOneMessagePerPacket writes packets from many goroutines at
// once, as paho's sender, pinger and acknowledgements do: every WebSocket
// message the server reads holds exactly one whole packet.
func TestPacketConnOneMessagePerPacket(t *testing.T) {
	t.Parallel()
	pc, srv := wsPair(t, 1<<20)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var p *packets.ControlPacket
				switch i % 3 {
				case 0:
					p = (&packets.Publish{QoS: 1, PacketID: uint16(i + 1), Topic: fmt.Sprintf("w/%d", w),
						Payload: bytes.Repeat([]byte{byte(w)}, i*7), Properties: &packets.Properties{ContentType: "x"}}).ToControlPacket()
				case 1:
					p = packets.NewControlPacket(packets.PINGREQ)
				case 2:
					p = (&packets.Pubrec{PacketID: uint16(i), Properties: &packets.Properties{}}).ToControlPacket()
				}
				if _, err := p.WriteTo(pc); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n := range writers * each {
		typ, data, err := srv.Read(ctx)
		if err != nil {
			t.Fatalf("message %d: %v", n, err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("message %d is %v, want binary", n, typ)
		}
		r := bytes.NewReader(data)
		if _, err := packets.ReadPacket(r); err != nil {
			t.Fatalf("message %d (%d bytes) is not one packet: %v", n, len(data), err)
		}
		if r.Len() != 0 {
			t.Fatalf("message %d holds more than one packet: %d bytes left", n, r.Len())
		}
	}
	wg.Wait()
}

// TestPacketConnRefusesOversizePacket: five bytes announcing a 256 MiB
// packet end the connection with ErrPacketTooLarge, and nothing near that
// size is allocated.
// It runs alone: it reads the heap.
func TestPacketConnRefusesOversizePacket(t *testing.T) {
	testCases := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"256 MiB publish", []byte{0x30, 0xff, 0xff, 0xff, 0x7f}, ErrPacketTooLarge},
		{"just over the limit", []byte{0x30, 0x80, 0x08}, ErrPacketTooLarge}, // 1024 remaining + 3 > 1024
		{"five-byte length", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}, ErrMalformedPacket},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			pc, srv := wsPair(t, 1024)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := srv.Write(ctx, websocket.MessageBinary, tc.bytes); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := packets.ReadPacket(pc)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadPacket error = %v, want %v", err, tc.want)
			}
			if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
				t.Fatalf("reading the header allocated %d bytes", grew)
			}
		})
	}
}

// TestPacketConnReadsAcrossMessages: packets split over WebSocket
// messages, or several in one message, read back whole.
func TestPacketConnReadsAcrossMessages(t *testing.T) {
	t.Parallel()
	pc, srv := wsPair(t, 1<<20)
	var stream bytes.Buffer
	var want []string
	for i := range 20 {
		topic := fmt.Sprintf("t/%d", i)
		want = append(want, topic)
		(&packets.Publish{Topic: topic, Payload: bytes.Repeat([]byte("x"), i*100), Properties: &packets.Properties{}}).WriteTo(&stream)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b := stream.Bytes()
		for size := 1; len(b) > 0; size = size*3 + 1 {
			n := min(size, len(b))
			if srv.Write(ctx, websocket.MessageBinary, b[:n]) != nil {
				return
			}
			b = b[n:]
		}
	}()
	for i, topic := range want {
		p, err := packets.ReadPacket(pc)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got := p.Content.(*packets.Publish).Topic; got != topic {
			t.Fatalf("packet %d has topic %q, want %q", i, got, topic)
		}
	}
}

// TestPacketConnFlushFailure: once a write fails, later writes fail too,
// and the owner hears of it once.
func TestPacketConnFlushFailure(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	var errs []error
	pc := newPacketConn(a, 1024, nil, func(err error) { errs = append(errs, err) }, nil, nil)
	b.Close()
	pkt := packets.NewControlPacket(packets.PINGREQ)
	pkt.WriteTo(pc) // gathered, fails on Unlock
	if _, err := pkt.WriteTo(pc); err == nil {
		t.Fatal("a write after a failed flush succeeded")
	}
	if len(errs) != 1 {
		t.Fatalf("onError called %d times, want once", len(errs))
	}
}

// brokenWrites is a connection whose writes fail, as a socket's do once
// the peer has closed it, while what the peer sent before can still be
// read.
type brokenWrites struct{ net.Conn }

func (brokenWrites) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestPacketConnReadsOnAfterWriteFails: a broker that ends a connection
// writes a DISCONNECT saying why and closes, and a write of the client's
// can fail before the client has read it. The reader still reads the
// DISCONNECT; a connection whose reader reads nothing more is closed
// writeFailGrace after the failed write.
func TestPacketConnReadsOnAfterWriteFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		pc := newPacketConn(brokenWrites{a}, 1024, nil, nil, nil, nil)
		defer pc.Close()
		go func() {
			d := packets.NewControlPacket(packets.DISCONNECT)
			d.Content.(*packets.Disconnect).ReasonCode = byte(ReasonSessionTakenOver)
			d.WriteTo(b)
		}()
		failedAt := time.Now()
		packets.NewControlPacket(packets.PINGREQ).WriteTo(pc) // fails on Unlock

		cp, err := packets.ReadPacket(pc)
		if err != nil {
			t.Fatalf("reading after a failed write: %v, want the broker's DISCONNECT", err)
		}
		if d, ok := cp.Content.(*packets.Disconnect); !ok || d.ReasonCode != byte(ReasonSessionTakenOver) {
			t.Fatalf("read %v, want the DISCONNECT the broker sent", cp)
		}
		if _, err := packets.ReadPacket(pc); err == nil {
			t.Fatal("a read succeeded with nothing sent")
		}
		if waited := time.Since(failedAt); waited != writeFailGrace {
			t.Fatalf("the connection closed %v after the failed write, want %v", waited, writeFailGrace)
		}
	})
}

// TestReadGate: reads stop at a packet boundary while the gate is
// paused, go on once it opens, and end when the connection closes.
func TestReadGate(t *testing.T) {
	t.Parallel()
	a, b := net.Pipe()
	gate := newReadGate()
	pc := newPacketConn(a, 1024, gate, nil, nil, nil)
	go func() {
		for range 2 {
			packets.NewControlPacket(packets.PINGRESP).WriteTo(b)
		}
	}()
	if _, err := packets.ReadPacket(pc); err != nil {
		t.Fatal(err)
	}
	gate.set(true)
	got := make(chan error, 1)
	go func() {
		_, err := packets.ReadPacket(pc)
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("read a packet through a paused gate (err %v)", err)
	case <-time.After(50 * time.Millisecond):
	}
	gate.set(false)
	if err := <-got; err != nil {
		t.Fatalf("after the gate opened: %v", err)
	}
	gate.set(true)
	go func() {
		_, err := packets.ReadPacket(pc)
		got <- err
	}()
	pc.Close()
	if err := <-got; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read waiting at the gate after Close: %v", err)
	}
	b.Close()
}

// TestPacketConnChecksLargePackets: a PUBLISH larger than the read buffer
// is read whole to be checked, then handed to paho intact; one that breaks
// the protocol is refused with a DISCONNECT like a small one.
func TestPacketConnChecksLargePackets(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		topic string
		want  error
	}{
		{"big/ok", nil},
		{"big/+", ErrProtocolViolation},
	}
	for _, tc := range testCases {
		t.Run(tc.topic, func(t *testing.T) {
			pc, srv := wsPair(t, 1<<20)
			pc.proto = newProtocolCheck(0, nil)
			payload := bytes.Repeat([]byte("0123456789"), 10_000)
			var stream bytes.Buffer
			stream.Write([]byte{0x20, 0x03, 0x00, 0x00, 0x00})
			(&packets.Publish{Topic: tc.topic, QoS: 1, PacketID: 7, Payload: payload, Properties: &packets.Properties{}}).WriteTo(&stream)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			go func() {
				b := stream.Bytes()
				for len(b) > 0 { // in pieces, as a broker may send them
					n := min(7000, len(b))
					if srv.Write(ctx, websocket.MessageBinary, b[:n]) != nil {
						return
					}
					b = b[n:]
				}
			}()
			if _, err := packets.ReadPacket(pc); err != nil {
				t.Fatalf("CONNACK: %v", err)
			}
			cp, err := packets.ReadPacket(pc)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadPacket error = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				_, msg, err := srv.Read(ctx)
				if err != nil || !bytes.Equal(msg, []byte{0xE0, 0x01, byte(ReasonProtocolError)}) {
					t.Fatalf("the broker read % x, %v; want a DISCONNECT 0x82", msg, err)
				}
				return
			}
			p := cp.Content.(*packets.Publish)
			if p.Topic != tc.topic || p.PacketID != 7 || !bytes.Equal(p.Payload, payload) {
				t.Fatalf("read topic %q, id %d, %d payload bytes; want %q, 7, %d", p.Topic, p.PacketID, len(p.Payload), tc.topic, len(payload))
			}
		})
	}
}

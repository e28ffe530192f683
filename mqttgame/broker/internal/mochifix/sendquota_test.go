package mochifix

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// busyWriter is a hook that, each time mochi has processed a packet from
// the client id, adds and removes messages in that client's in-flight
// store from another goroutine for a moment, as publishers sending to it
// under steady traffic do: mochi's pacing runs right after that hook.
type busyWriter struct {
	mqtt.HookBase
	id string
	wg sync.WaitGroup

	mu      sync.Mutex
	stopped bool // once set, the hook starts no more writers
}

// stop waits for the writers started, and starts no more: the last PINGREQ
// is processed (and a writer started) after its PINGRESP went, so while
// the test already waits.
func (h *busyWriter) stop() {
	h.mu.Lock()
	h.stopped = true
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *busyWriter) ID() string           { return "busy-writer" }
func (h *busyWriter) Provides(b byte) bool { return b == mqtt.OnPacketProcessed }

func (h *busyWriter) OnPacketProcessed(cl *mqtt.Client, pk mpackets.Packet, err error) {
	if cl.ID != h.id || pk.FixedHeader.Type != mpackets.Pingreq {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fake := mpackets.Packet{FixedHeader: mpackets.FixedHeader{Type: mpackets.Publish, Qos: 1}, PacketID: 65000}
		for end := time.Now().Add(2 * time.Millisecond); time.Now().Before(end); {
			cl.State.Inflight.Set(fake)
			cl.State.Inflight.Delete(fake.PacketID)
		}
	}()
}

// pings has a client with a QoS 1 message in flight (unacknowledged) ping
// the server up to n times, while busyWriter works; it reports whether
// every ping was answered within wait.
func pings(t *testing.T, s *server, n int, wait time.Duration) bool {
	t.Helper()
	c, _ := dial(t, s.addr, session{id: "pinger", receiveMaximum: 100})
	c.subscribe("q", 1)
	pub, _ := dial(t, s.addr, session{id: "pub"})
	pub.publish("q", "m", 1, 1)
	if msg := c.read(); msg.Type != packets.PUBLISH {
		t.Fatalf("got %v", msg)
	}
	for range n {
		c.send(packets.NewControlPacket(packets.PINGREQ))
		if _, err := c.tryRead(wait); err != nil {
			return false
		}
	}
	return true
}

// TestSendQuota: bare mochi deadlocks when a message is added to a
// client's in-flight store while it paces sending to that client; with
// NoSendQuota it does not. The deadlocked server cannot be closed and is
// left behind. It runs alone: its bare case keeps a CPU busy and times
// the server's answers.
func TestSendQuota(t *testing.T) {
	t.Run("bare", func(t *testing.T) {
		h := &busyWriter{id: "pinger"}
		s := startServer(t, serverOptions{hooks: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{h} }})
		if pings(t, s, 1000, 2*time.Second) {
			h.stop()
			gone(t, "sendquota.go", "every ping was answered")
			return
		}
		s.once.Do(func() {}) // deadlocked: closing it would hang
		buf := make([]byte, 1<<20)
		if stacks := string(buf[:runtime.Stack(buf, true)]); !strings.Contains(stacks, "NextImmediate") {
			t.Fatalf("the server stopped answering, but not in mochi's pacing:\n%s", stacks)
		}
	})
	t.Run("fixed", func(t *testing.T) {
		h := &busyWriter{id: "pinger"}
		s := startServer(t, serverOptions{hooks: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{new(NoSendQuota), h} }})
		if !pings(t, s, 1000, waitFor) {
			t.Error("the server stopped answering pings")
		}
		h.stop()
	})
}

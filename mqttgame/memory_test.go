//go:build !js

package mqttgame_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"

	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestFloodHeapBounded floods a game that does not tick (a hidden tab)
// with messages of each shape another player can send through a
// compliant broker, on a FIFO wildcard subscription: long topic names
// and no payload, big user properties, many tiny messages, a new topic
// per message. Every byte the client holds counts against
// MaxBufferedBytes, so the heap, measured after a collection, grows by
// no more than it, one message past it and a small constant: while the
// game is away, and again once it is back and every message that was
// kept is visible.
// It runs alone: it bounds the heap.
func TestFloodHeapBounded(t *testing.T) {
	const (
		limit = 2 << 20
		// slack is what the heap holds beside the inbox: the client's and
		// the broker's buffers and goroutines, which the same test with no
		// flood also shows, and the runtime's own.
		slack = 2 << 20
	)
	long := strings.Repeat("t", 60_000)
	prop := strings.Repeat("p", 25_000)
	bigProps := []*packets.User{}
	for i := range 4 {
		bigProps = append(bigProps, &packets.User{Key: fmt.Sprint(i, prop), Value: prop})
	}
	testCases := []struct {
		name      string
		n         int
		maxTopics int
		msg       func(i int) *packets.Publish
		largest   int // bytes of the largest message, as counted
	}{
		{"long topics", 200, 0, func(i int) *packets.Publish {
			return &packets.Publish{Topic: fmt.Sprintf("flood/t/%d/%s", i%25, long)}
		}, 70_000},
		{"big properties", 60, 0, func(i int) *packets.Publish {
			p := &packets.Publish{Topic: fmt.Sprintf("flood/p/%d", i%25), Properties: &packets.Properties{}}
			for _, u := range bigProps {
				p.Properties.User = append(p.Properties.User, *u)
			}
			return p
		}, 220_000},
		{"many tiny messages", 10_000, 0, func(i int) *packets.Publish {
			return &packets.Publish{Topic: fmt.Sprintf("flood/m/%d", i%1000)}
		}, 2_000},
		{"many topics", 10_000, 1_000_000, func(i int) *packets.Publish {
			return &packets.Publish{Topic: fmt.Sprintf("flood/n/%d", i), Payload: []byte("0123456789")}
		}, 2_000},
	}
	b := mqtttest.StartBroker(t, &broker.Options{TCPAddr: "127.0.0.1:0"})
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, b.URL(), func(o *mqttgame.Options) {
				o.DataLoss = mqttgame.FIFO
				o.MaxBufferedBytes = limit
				o.MaxTopics = tc.maxTopics
				o.Logger = testLoggerAt(t, 0)
			})
			connect(t, c)
			subscribe(t, c, "flood/#", mqttgame.SubscribeOptions{QoS: 0})
			base := heapAfterGC()

			flood(t, b.TCPURL(), tc.n, tc.msg, func() int { return int(mqttgame.InboxReceived(c)) })
			away := heapAfterGC() - base

			// The game is back: it ticks until nothing waits, so that
			// every message kept is visible.
			tickUntil(t, "every message kept shown", func() bool { return c.Stats().Waiting == 0 }, c)
			back := heapAfterGC() - base
			st := c.Stats()
			bound := int64(limit + tc.largest + slack)
			t.Logf("%d messages: heap grew %.2f MiB while away, %.2f MiB once back (bound %.2f MiB); counted %.2f MiB; shown %d, dropped %d (bytes %d, queue %d, topics %d), topics forgotten %d",
				tc.n, mib(away), mib(back), mib(bound), mib(int64(st.BufferedBytes)), st.Shown, st.Dropped(), st.DroppedBytesLimit, st.DroppedQueueFull, st.DroppedTopicLimit, st.TopicsForgotten)
			if away > bound || back > bound {
				t.Errorf("heap grew %d bytes while away, %d once back: over %d", away, back, bound)
			}
			if st.Received != st.Shown+st.Dropped() {
				t.Errorf("received %d, but shown %d and dropped %d", st.Received, st.Shown, st.Dropped())
			}
		})
	}
}

func heapAfterGC() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// flood publishes n QoS 0 messages, made by msg, from a bare MQTT
// connection, so that nothing in this process keeps them once written. It
// sends them in batches, each once the game's client has all of the last
// (received() tells how many it has), so that the broker, which drops
// QoS 0 messages past a client's pending writes, passes on every one.
func flood(t *testing.T, brokerURL string, n int, msg func(i int) *packets.Publish, received func() int) {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	connect := packets.NewControlPacket(packets.CONNECT)
	cp := connect.Content.(*packets.Connect)
	cp.ProtocolName, cp.ProtocolVersion, cp.CleanStart = "MQTT", 5, true
	cp.ClientID = fmt.Sprintf("flood-%p", t)
	if _, err := connect.WriteTo(conn); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	if ack, err := packets.ReadPacket(r); err != nil || ack.Type != packets.CONNACK {
		t.Fatalf("flood publisher: %v %v", ack, err)
	}
	const batch = 1000
	w := bufio.NewWriter(conn)
	for i := range n {
		p := msg(i)
		if p.Properties == nil {
			p.Properties = &packets.Properties{}
		}
		if _, err := p.WriteTo(w); err != nil {
			t.Fatal(err)
		}
		if sent := i + 1; sent%batch == 0 || sent == n {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			waitUntil(t, fmt.Sprintf("message %d of the flood", sent), func() bool { return received() == sent })
		}
	}
	disconnect := packets.NewControlPacket(packets.DISCONNECT)
	if _, err := disconnect.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

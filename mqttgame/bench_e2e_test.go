package mqttgame_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mochipackets "github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// The end-to-end benchmarks move messages from one client to another
// through the embedded broker over WebSocket, and compare the client with
// what a game would use instead: autopaho dialled over coder/websocket's
// NetConn as shipped, and (natively) a bare coder/websocket relay with no
// MQTT at all. Both sides of each pair run in this process, so allocs/op
// counts the broker's allocations as well as both clients'.
//
// Natively the broker runs in the benchmark; compiled to WebAssembly the
// benchmarks reach one that e2e/wasm or the benchmark report
// starts (see benchBroker).

const (
	// benchPayload is the size of each message's payload: a position
	// update or a short chat line.
	benchPayload = 64
	// benchWindow is how many messages may be published and not yet
	// received. It keeps a QoS 0 flood under what the broker queues for
	// a client (mochi drops QoS 0 messages past that) and under the
	// client's OutboxSize.
	benchWindow = 512
	// benchWait bounds every wait of a benchmark.
	benchWait = 60 * time.Second
)

// relayBenchmark is the bare coder/websocket relay, set where a server
// can listen (not in WebAssembly).
var relayBenchmark func(b *testing.B)

// BenchmarkThroughput publishes b.N messages from one client to another,
// at most benchWindow ahead of the receiver, and reports messages per
// second. mqttgame's receiver is a game loop: it calls Update until the
// counters show every message arrived.
func BenchmarkThroughput(b *testing.B) {
	for _, qos := range []mqttgame.QoS{mqttgame.AtMostOnce, mqttgame.AtLeastOnce, mqttgame.ExactlyOnce} {
		b.Run(fmt.Sprintf("qos%d", qos), func(b *testing.B) {
			b.Run("mqttgame", func(b *testing.B) { throughputMqttgame(b, qos) })
			b.Run("autopaho", func(b *testing.B) { throughputAutopaho(b, qos) })
			if qos == mqttgame.AtMostOnce && relayBenchmark != nil {
				b.Run("relay", relayBenchmark)
			}
		})
	}
}

// benchName returns a topic or client ID no other benchmark uses, also on
// a broker shared by several runs.
func benchName(prefix string) string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return prefix + hex.EncodeToString(r[:])
}

// reportRate reports messages per second over the benchmark's time.
func reportRate(b *testing.B, n int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(n)/s, "msgs/s")
	}
}

// reportCPU reports the process's CPU time (user and system) since
// start, per message: both clients' work, and in WebAssembly the
// JavaScript runtime's too; natively under the benchmark report, which
// runs the broker in its own process, not the broker's.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if start < 0 || n == 0 {
		return
	}
	b.ReportMetric(float64((processCPU()-start).Nanoseconds())/float64(n), "cpu-ns/msg")
}

// benchClient returns a connected mqttgame client.
func benchClient(b *testing.B, url string, edit func(*mqttgame.Options)) *mqttgame.Client {
	b.Helper()
	o := &mqttgame.Options{Brokers: []string{url}, ClientID: benchName("bench-")}
	if edit != nil {
		edit(o)
	}
	c, err := mqttgame.New(o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.Connect()
	benchTickUntil(b, "connected", c.IsConnected, c)
	return c
}

// benchTickUntil runs the clients' ticks until cond holds.
func benchTickUntil(b *testing.B, what string, cond func() bool, clients ...*mqttgame.Client) {
	b.Helper()
	deadline := time.Now().Add(benchWait)
	for {
		for _, c := range clients {
			c.Update()
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range clients {
				b.Logf("client %s: connected=%v err=%v stats=%+v", c.ClientID(), c.IsConnected(), c.Err(), c.Stats())
			}
			b.Fatalf("timed out waiting for %s", what)
		}
		benchYield()
	}
}

func throughputMqttgame(b *testing.B, qos mqttgame.QoS) {
	url := benchBroker(b)
	topic := benchName("bench/")
	sub := benchClient(b, url, nil)
	pub := benchClient(b, url, nil)
	if err := sub.Subscribe(topic, qos); err != nil {
		b.Fatal(err)
	}
	benchTickUntil(b, "subscribed", func() bool { return sub.IsSubscribed(topic) }, sub)
	payload := make([]byte, benchPayload)
	base := sub.Stats().Received

	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	sent, got := 0, 0
	deadline := time.Now().Add(benchWait)
	for got < b.N {
		for sent < b.N && sent-got < benchWindow {
			if _, err := pub.Publish(topic, payload, qos, false); err != nil {
				if errors.Is(err, mqttgame.ErrOutboxFull) {
					break
				}
				b.Fatal(err)
			}
			sent++
		}
		pub.Update()
		sub.Update()
		if n := int(sub.Stats().Received - base); n != got {
			got = n
			continue
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d messages arrived (sent %d); publisher %+v, receiver %+v", got, b.N, sent, pub.Stats(), sub.Stats())
		}
		benchYield()
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N)
	reportRate(b, b.N)
	if st := sub.Stats(); st.ConnectionsLost > 0 || pub.Stats().ConnectionsLost > 0 {
		b.Fatalf("a connection was lost during the run: %v / %v", sub.Err(), pub.Err())
	}
}

// dialAutopaho connects autopaho the way its documentation says to over
// coder/websocket: NetConn, made safe for concurrent writes.
func dialAutopaho(b *testing.B, rawURL string, onMessage func(paho.PublishReceived) (bool, error)) *autopaho.ConnectionManager {
	b.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ConnectTimeout:                10 * time.Second,
		ClientConfig:                  paho.ClientConfig{ClientID: benchName("paho-")},
	}
	if onMessage != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){onMessage}
	}
	if u.Scheme == "ws" || u.Scheme == "wss" {
		cfg.AttemptConnection = func(ctx context.Context, _ autopaho.ClientConfig, u *url.URL) (net.Conn, error) {
			dialCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(dialCtx, u.String(), &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
			if err != nil {
				return nil, err
			}
			return packets.NewThreadSafeConn(websocket.NetConn(ctx, c, websocket.MessageBinary)), nil
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cm.Disconnect(dctx)
		dcancel()
		cancel()
		<-cm.Done()
	})
	wctx, wcancel := context.WithTimeout(ctx, benchWait)
	defer wcancel()
	if err := cm.AwaitConnection(wctx); err != nil {
		b.Fatalf("autopaho did not connect to %s: %v", rawURL, err)
	}
	return cm
}

// arrivals counts messages received on network goroutines and wakes a
// waiter.
type arrivals struct {
	n    atomic.Int64
	wake chan struct{}
}

func newArrivals() *arrivals { return &arrivals{wake: make(chan struct{}, 1)} }

func (a *arrivals) onMessage(paho.PublishReceived) (bool, error) {
	a.add()
	return true, nil
}

func (a *arrivals) add() {
	a.n.Add(1)
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// wait returns once something arrived, or fails the benchmark at the
// deadline.
func (a *arrivals) wait(b *testing.B, deadline time.Time, what string) {
	select {
	case <-a.wake:
	case <-time.After(time.Until(deadline)):
		b.Fatalf("timed out: %s", what)
	}
}

// throughputAutopaho is the baseline: QoS 0 through ConnectionManager's
// Publish, which writes on the caller's goroutine; QoS 1 and 2 through
// its queue (PublishViaQueue), as Publish would wait for each
// acknowledgement in turn.
func throughputAutopaho(b *testing.B, qos mqttgame.QoS) {
	url := benchBroker(b)
	topic := benchName("bench/")
	got := newArrivals()
	sub := dialAutopaho(b, url, got.onMessage)
	pub := dialAutopaho(b, url, nil)
	ctx := context.Background()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: byte(qos)}}}); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayload)

	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	deadline := time.Now().Add(benchWait)
	for sent := 0; sent < b.N; {
		if sent-int(got.n.Load()) >= benchWindow {
			got.wait(b, deadline, fmt.Sprintf("%d of %d messages arrived", got.n.Load(), b.N))
			continue
		}
		p := &paho.Publish{Topic: topic, QoS: byte(qos), Payload: payload}
		var err error
		if qos == mqttgame.AtMostOnce {
			_, err = pub.Publish(ctx, p)
		} else {
			err = pub.PublishViaQueue(ctx, &autopaho.QueuePublish{Publish: p})
		}
		if err != nil {
			b.Fatal(err)
		}
		sent++
	}
	for got.n.Load() < int64(b.N) {
		got.wait(b, deadline, fmt.Sprintf("%d of %d messages arrived", got.n.Load(), b.N))
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N)
	reportRate(b, b.N)
}

// BenchmarkRoundTrip measures a message's way from Publish to being
// visible, one message at a time, on a client subscribed to its own
// topic: mqttgame over WebSocket (visible after an Update, called in a
// loop as fast as it goes), against
// autopaho over TCP and over WebSocket as shipped (visible in its
// callback), and against the floor under any client (roundTripFloor). It
// reports the median and the 99th percentile.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("floor-ws", roundTripFloor)
	b.Run("mqttgame-ws", func(b *testing.B) {
		url := benchBroker(b)
		topic := benchName("rt/")
		c := benchClient(b, url, nil)
		if err := c.Subscribe(topic, mqttgame.AtMostOnce); err != nil {
			b.Fatal(err)
		}
		benchTickUntil(b, "subscribed", func() bool { return c.IsSubscribed(topic) }, c)
		payload := make([]byte, benchPayload)
		roundTrips(b, func() {
			if _, err := c.Publish(topic, payload, mqttgame.AtMostOnce, false); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), benchWait)
			defer cancel()
			for {
				// Wait, as the baselines wait for their callback: a loop
				// that polls without pause keeps a core from the network
				// goroutines, and one that sleeps measures Go's timers.
				if err := c.Wait(ctx); err != nil {
					b.Fatalf("the message did not come back: %v; %+v", err, c.Stats())
				}
				c.Update()
				if c.OnMessage(topic) {
					return
				}
			}
		})
	})
	for _, transport := range []string{"tcp", "ws"} {
		b.Run("autopaho-"+transport, func(b *testing.B) {
			url, tcp := benchBrokerTCP(b)
			if transport == "tcp" {
				if tcp == "" {
					b.Skip("no TCP in WebAssembly")
				}
				url = tcp
			}
			topic := benchName("rt/")
			got := make(chan struct{}, 1)
			c := dialAutopaho(b, url, func(paho.PublishReceived) (bool, error) {
				got <- struct{}{}
				return true, nil
			})
			ctx := context.Background()
			if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic}}}); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, benchPayload)
			roundTrips(b, func() {
				if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload}); err != nil {
					b.Fatal(err)
				}
				select {
				case <-got:
				case <-time.After(benchWait):
					b.Fatal("the message did not come back")
				}
			})
		})
	}
}

// roundTripFloor is what lies under a client's round trip: the
// benchmark's message, encoded by paho once beforehand, written on the
// connection the client would open and read back, with no MQTT client
// (the session and the subscription are set up the same way). Nothing is
// decoded or queued, and no goroutine but the benchmark's takes part: in
// WebAssembly, the least any Go program pays for a round trip over the
// browser's WebSocket.
func roundTripFloor(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := mqttgame.DialTransport(ctx, benchBroker(b))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	topic := benchName("rt/")
	r := bufio.NewReader(conn)
	// exchange writes p and reads the next packet, which must be of type want.
	exchange := func(p []byte, want byte) {
		if _, err := conn.Write(p); err != nil {
			b.Fatal(err)
		}
		head, err := r.ReadByte()
		if err != nil {
			b.Fatal(err)
		}
		n, _, err := mochipackets.DecodeLength(r)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Discard(n); err != nil {
			b.Fatal(err)
		}
		if head>>4 != want {
			b.Fatalf("the broker sent a packet of type %d, not %d", head>>4, want)
		}
	}
	exchange(encodePacket(b, &packets.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: true, ClientID: benchName("floor-"), Properties: &packets.Properties{}}), packets.CONNACK)
	exchange(encodePacket(b, &packets.Subscribe{PacketID: 1, Subscriptions: []packets.SubOptions{{Topic: topic}}, Properties: &packets.Properties{}}), packets.SUBACK)
	publish := encodePacket(b, &packets.Publish{Topic: topic, Payload: make([]byte, benchPayload), Properties: &packets.Properties{}})
	roundTrips(b, func() { exchange(publish, packets.PUBLISH) })
}

// encodePacket returns p as paho writes it.
func encodePacket(b *testing.B, p io.WriterTo) []byte {
	var buf bytes.Buffer
	if _, err := p.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// roundTrips times b.N calls of one and reports their median and 99th
// percentile.
func roundTrips(b *testing.B, one func()) {
	times := make([]time.Duration, 0, b.N)
	var total atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for range b.N {
		t0 := time.Now()
		one()
		d := time.Since(t0)
		times = append(times, d)
		total.Add(int64(d))
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N)
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)].Nanoseconds()), "p99-ns")
}

//go:build !js

package mqttgame_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// frameProxy stands between WebSocket clients and a broker and relays
// their messages one by one, unchanged, parsing each with paho's packets
// package: it counts the messages and the packets in each, in both
// directions.
type frameProxy struct {
	t      *testing.T
	target string
	srv    *httptest.Server
	ctx    context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	dirs map[string]*frameCount // "up" (client to broker) and "down"
}

// frameCount is what one direction carried.
type frameCount struct {
	messages  int
	packets   int
	byType    map[byte]int // packets by MQTT packet type
	bad       []string     // messages that were not whole packets: a packet split across messages, or none at all
	shared    int          // messages that held more than one packet
	maxPerMsg int
}

func newFrameProxy(t *testing.T, target string) *frameProxy {
	ctx, stop := context.WithCancel(context.Background())
	p := &frameProxy{t: t, target: target, ctx: ctx, stop: stop, dirs: map[string]*frameCount{
		"up":   {byType: map[byte]int{}},
		"down": {byType: map[byte]int{}},
	}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(func() {
		p.stop()
		p.srv.Close()
		p.wg.Wait()
	})
	return p
}

func (p *frameProxy) url() string { return "ws" + strings.TrimPrefix(p.srv.URL, "http") + "/mqtt" }

func (p *frameProxy) serve(w http.ResponseWriter, r *http.Request) {
	client, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		return
	}
	client.SetReadLimit(-1)
	defer client.CloseNow()
	broker, _, err := websocket.Dial(p.ctx, p.target, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		p.t.Errorf("proxy: dialling the broker: %v", err)
		return
	}
	broker.SetReadLimit(-1)
	defer broker.CloseNow()
	p.wg.Add(2)
	done := make(chan struct{}, 2)
	relay := func(dir string, from, to *websocket.Conn) {
		defer p.wg.Done()
		defer func() { done <- struct{}{} }()
		for {
			typ, data, err := from.Read(p.ctx)
			if err != nil {
				return
			}
			p.count(dir, typ, data)
			if err := to.Write(p.ctx, typ, data); err != nil {
				return
			}
		}
	}
	go relay("up", client, broker)
	go relay("down", broker, client)
	<-done // either side ended: end both
}

// count parses one message as MQTT packets.
func (p *frameProxy) count(dir string, typ websocket.MessageType, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fc := p.dirs[dir]
	fc.messages++
	r := bytes.NewReader(data)
	n := 0
	for r.Len() > 0 {
		cp, err := packets.ReadPacket(r)
		if err != nil {
			fc.bad = append(fc.bad, fmt.Sprintf("message %d (%d bytes): %v", fc.messages, len(data), err))
			return
		}
		n++
		fc.byType[cp.Type]++
	}
	fc.packets += n
	fc.maxPerMsg = max(fc.maxPerMsg, n)
	if n > 1 {
		fc.shared++
	}
	if typ != websocket.MessageBinary || n == 0 {
		fc.bad = append(fc.bad, fmt.Sprintf("message %d: %v with %d packets in %d bytes", fc.messages, typ, n, len(data)))
	}
}

func (p *frameProxy) snapshot(dir string) frameCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	fc := *p.dirs[dir]
	fc.byType = map[byte]int{}
	for k, v := range p.dirs[dir].byType {
		fc.byType[k] = v
	}
	fc.bad = append([]string(nil), fc.bad...)
	return fc
}

// TestOneWebSocketMessagePerPacket runs a real client against the embedded
// broker through a proxy that parses every WebSocket message: in both
// directions each one must hold whole MQTT packets, never a packet split
// across messages, so that no packet takes more than one message. Packets
// written together may share one, as MQTT allows: the client's QoS 0
// messages published back to back, the broker's packets queued for a
// client faster than it writes them. The traffic has
// every kind of packet the client sends (CONNECT, SUBSCRIBE, PUBLISH at
// each QoS with payloads from 0 bytes to 100 KiB, the QoS 1 and 2
// acknowledgements, PINGREQ, UNSUBSCRIBE, DISCONNECT), and floods of
// messages the broker queues for the client faster than it can write
// them, where mochi-mqtt gathers several packets into one write.
func TestOneWebSocketMessagePerPacket(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	proxy := newFrameProxy(t, b.URL())
	// A publisher and a subscriber: mochi-mqtt keeps one client's packet
	// identifiers of both directions in one table, and a client that
	// publishes and receives at QoS 2 at once meets its collisions.
	// The keepalive is long enough that a busy machine cannot end a
	// connection while the traffic goes (a reconnection resends, and the
	// counts below would be off): the client gives the broker half of it
	// to answer a ping, and mochi-mqtt waits 1.5 times it.
	const keepAlive = 10 * time.Second
	edit := func(o *mqttgame.Options) {
		o.KeepAlive = keepAlive
		o.DataLoss = mqttgame.FIFO
		o.TopicQueueSize = 1024
	}
	pub, sub := newClient(t, proxy.url(), edit), newClient(t, proxy.url(), edit)
	connect(t, pub)
	connect(t, sub)
	subscribe(t, sub, "frames/#", mqttgame.SubscribeOptions{QoS: mqttgame.ExactlyOnce})

	const each = 300
	sizes := []int{0, 1, 100, 127, 128, 16383, 16384, 100 << 10}
	sent := 0
	for q := range mqttgame.QoS(3) {
		for i := range each {
			payload := bytes.Repeat([]byte{byte(i)}, sizes[i%len(sizes)])
			if _, err := pub.Publish(fmt.Sprintf("frames/%d/%d", q, i%7), payload, q, false); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		tickUntil(t, fmt.Sprintf("QoS %d messages back", q), func() bool { return sub.Stats().Received == uint64(sent) }, pub, sub)
	}
	tickUntil(t, "every publish delivered", func() bool { return pub.Stats().Delivered == uint64(sent) }, pub, sub)
	// The clients are silent after the traffic: their keepalives ping,
	// one keepalive after their last packet.
	limit := keepAlive + mqtttest.Scale(waitFor)
	deadline := time.Now().Add(limit)
	for proxy.snapshot("up").byType[packets.PINGREQ] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no PINGREQ within %v of the traffic's end", limit)
		}
		update(pub)
		update(sub)
		time.Sleep(10 * time.Millisecond)
	}
	if n := pub.Stats().ConnectionsLost + sub.Stats().ConnectionsLost; n != 0 {
		t.Fatalf("%d connections lost during the traffic", n)
	}
	if err := sub.Unsubscribe("frames/#"); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "unsubscribed", func() bool { return sawEvent(sub, mqttgame.EventUnsubscribed, 0) }, sub)
	pub.Disconnect()
	sub.Disconnect()
	waitUntil(t, "both DISCONNECTs", func() bool { return proxy.snapshot("up").byType[packets.DISCONNECT] == 2 })

	up, down := proxy.snapshot("up"), proxy.snapshot("down")
	t.Logf("client to broker: %d messages, %d packets %v", up.messages, up.packets, up.byType)
	t.Logf("broker to client: %d messages, %d packets %v", down.messages, down.packets, down.byType)
	t.Logf("broker to client: %d messages held more than one packet, at most %d", down.shared, down.maxPerMsg)
	for dir, fc := range map[string]frameCount{"client to broker": up, "broker to client": down} {
		if len(fc.bad) > 0 {
			t.Errorf("%s: %d of %d messages were not whole packets; first: %s", dir, len(fc.bad), fc.messages, fc.bad[0])
		}
		// Every message holds at least one whole packet, so no packet
		// took more than one message.
		if fc.messages > fc.packets {
			t.Errorf("%s: %d messages carried %d packets", dir, fc.messages, fc.packets)
		}
	}
	// The 300 QoS 0 messages, published in one go, shared messages.
	t.Logf("client to broker: %d messages held more than one packet, at most %d", up.shared, up.maxPerMsg)
	if up.shared == 0 {
		t.Errorf("client to broker: %d messages carried %d packets, none more than one: QoS 0 messages published together went one by one", up.messages, up.packets)
	}
	// Every kind of packet the client sends went by. (How many PUBCOMPs
	// depends on the broker: mochi-mqtt answers some PUBRECs with a
	// PUBREL "packet identifier not found" when the client used the same
	// identifier for a publish of its own, and those need no PUBCOMP.)
	for _, typ := range []byte{packets.CONNECT, packets.SUBSCRIBE, packets.PUBLISH, packets.PUBACK, packets.PUBREC,
		packets.PUBREL, packets.PUBCOMP, packets.PINGREQ, packets.UNSUBSCRIBE, packets.DISCONNECT} {
		if up.byType[typ] == 0 {
			t.Errorf("client to broker: no packet of type %d went by", typ)
		}
	}
	if got := up.byType[packets.PUBLISH]; got != 3*each {
		t.Errorf("client to broker: %d PUBLISH packets, want %d", got, 3*each)
	}
	if got := down.byType[packets.PUBLISH]; got != 3*each {
		t.Errorf("broker to client: %d PUBLISH packets, want %d", got, 3*each)
	}
}

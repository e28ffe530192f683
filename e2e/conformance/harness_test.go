package conformance

import (
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// waitFor bounds every wait for something the network should do.
const waitFor = 10 * time.Second

// TestConformance runs every case on every broker over every transport,
// as TestConformance/<broker>/<transport>/<case>. Cases run in parallel:
// each has its own topic prefix and client IDs.
func TestConformance(t *testing.T) {
	byName := map[string]caseDef{}
	for _, c := range cases {
		byName[c.name] = c
	}
	matrix.Each(t, caseNames(), func(t *testing.T, cell casematrix.Cell) {
		e := &env{T: t, broker: cell.Target, transport: cell.Transport, caseName: cell.Case}
		e.prefix = fmt.Sprintf("ct-%s-%s-%s", cell.Target, cell.Transport, strings.ReplaceAll(cell.Case, "_", "-"))
		e.srv = shared(t, cell.Target)
		srv := e.srv
		e.Case = results.Start(t, cell)
		// Checked after the clients closed (cleanups run last first).
		t.Cleanup(func() { srv.check(t) })
		byName[cell.Case].run(e)
	})
}

// env is what a case runs in: a broker, a transport, a topic prefix.
type env struct {
	*testing.T
	broker, transport, caseName string
	prefix                      string
	srv                         server // the shared broker, or the case's own
	*casematrix.Case
}

// topic returns a topic of the case: its prefix, then rel.
func (e *env) topic(rel string) string { return e.prefix + "/" + rel }

// id returns a client identifier of the case.
func (e *env) id(name string) string { return e.prefix + "-" + name }

// own starts a broker of the case's kind with limits of its own, closed
// when the case ends, and makes it the case's broker.
func (e *env) own(l limits) server {
	e.Helper()
	s, err := startServer(e.broker, l)
	if err != nil {
		e.Fatalf("start %s: %v", e.broker, err)
	}
	e.Cleanup(func() { s.check(e.T); s.close() })
	e.srv = s
	return s
}

// relay starts a relay in front of the case's broker.
func (e *env) relay() *relay { return newRelay(e.T, e.transport, e.srv.target(e.transport)) }

// peer is a client of the case, ticked by the case as a game loop would,
// keeping every message and event it showed.
type peer struct {
	*mqttgame.Client
	name   string
	msgs   []mqttgame.Message
	events []mqttgame.Event
	extra  []string // $-filters to collect too ("#" does not match $-topics)
	qos    map[mqttgame.PublishID]mqttgame.QoS
}

// client makes a peer connected (or not) to the case's broker over the
// case's transport, with FIFO delivery so that every message is seen,
// and the given changes to its options. It closes when the case ends.
func (e *env) client(name string, edit func(*mqttgame.Options)) *peer {
	return e.clientAt(e.srv.URL(e.transport), name, edit)
}

// clientAt is client with another broker URL (a relay's).
func (e *env) clientAt(url, name string, edit func(*mqttgame.Options)) *peer {
	e.Helper()
	o := &mqttgame.Options{
		Brokers:        []string{url},
		ClientID:       e.id(name),
		DataLoss:       mqttgame.FIFO,
		ReconnectDelay: 50 * time.Millisecond,
		Logger:         e.logger(name),
	}
	if edit != nil {
		edit(o)
	}
	c, err := mqttgame.New(o)
	if err != nil {
		e.Fatalf("New %s: %v", name, err)
	}
	e.Cleanup(func() { c.Close() })
	return &peer{Client: c, name: name, qos: map[mqttgame.PublishID]mqttgame.QoS{}}
}

// logger returns a logger whose lines the test prints only if it fails.
func (e *env) logger(name string) *slog.Logger {
	w := &syncbuf.Buffer{}
	e.Cleanup(func() {
		if e.Failed() {
			e.Logf("log of %s:\n%s", name, w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// tick runs one tick of the peer and keeps what it showed.
func (p *peer) tick() {
	p.Update()
	p.events = p.AppendEvents(p.events)
	p.msgs = p.AppendMessages(p.msgs, "#")
	for _, f := range p.extra {
		p.msgs = p.AppendMessages(p.msgs, f)
	}
}

// got returns the messages the peer showed on topics matching filter.
func (p *peer) got(filter string) []mqttgame.Message {
	var out []mqttgame.Message
	for _, m := range p.msgs {
		if mqttgame.Match(filter, m.Topic) {
			out = append(out, m)
		}
	}
	return out
}

// payloads returns the payloads of got(filter), in order.
func (p *peer) payloads(filter string) []string {
	var out []string
	for _, m := range p.got(filter) {
		out = append(out, string(m.Payload))
	}
	return out
}

// count returns how many events of a kind the peer showed (for topic,
// unless it is "").
func (p *peer) count(kind mqttgame.EventKind, topic string) int {
	n := 0
	for _, ev := range p.events {
		if ev.Kind == kind && (topic == "" || ev.Topic == topic) {
			n++
		}
	}
	return n
}

// saw reports whether the peer showed an event of a kind for publish id
// (any publish, if id is 0).
func (p *peer) saw(kind mqttgame.EventKind, id mqttgame.PublishID) bool {
	for _, ev := range p.events {
		if ev.Kind == kind && (id == 0 || ev.ID == id) {
			return true
		}
	}
	return false
}

// lastConnected returns the latest EventConnected the peer showed.
func (p *peer) lastConnected() (mqttgame.Event, bool) {
	for i := len(p.events) - 1; i >= 0; i-- {
		if p.events[i].Kind == mqttgame.EventConnected {
			return p.events[i], true
		}
	}
	return mqttgame.Event{}, false
}

// until ticks the peers until cond holds after a tick, failing the case
// after waitFor.
func (e *env) until(what string, cond func() bool, peers ...*peer) {
	e.Helper()
	e.untilWithin(waitFor, what, cond, peers...)
}

func (e *env) untilWithin(limit time.Duration, what string, cond func() bool, peers ...*peer) {
	e.Helper()
	deadline := time.Now().Add(limit)
	for {
		for _, p := range peers {
			p.tick()
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range peers {
				e.Logf("%s: connected=%v err=%v stats=%+v events=%v", p.name, p.IsConnected(), p.Err(), p.Stats(), p.events)
			}
			e.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// idle ticks the peers for d: for cases where time passing is the point
// (keepalives, expiry), not a way to wait for something to happen.
func (e *env) idle(d time.Duration, peers ...*peer) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for _, p := range peers {
			p.tick()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// connect connects the peers and waits until they are.
func (e *env) connect(peers ...*peer) {
	e.Helper()
	for _, p := range peers {
		n := p.count(mqttgame.EventConnected, "")
		if err := p.Connect(); err != nil {
			e.Fatal(err)
		}
		e.until(p.name+" connected", func() bool { return p.count(mqttgame.EventConnected, "") > n }, p)
	}
}

// disconnect disconnects the peer gracefully and waits until it is.
func (e *env) disconnect(p *peer) {
	e.Helper()
	n := p.count(mqttgame.EventDisconnected, "")
	p.Disconnect()
	e.until(p.name+" disconnected", func() bool { return p.count(mqttgame.EventDisconnected, "") > n }, p)
}

// subscribe subscribes the peer and waits for the broker's answer to this
// very SUBSCRIBE; it fails the case if the broker refused.
func (e *env) subscribe(p *peer, filter string, opts mqttgame.SubscribeOptions) {
	e.Helper()
	n := p.count(mqttgame.EventSubscribed, filter)
	if err := p.SubscribeWith(filter, opts); err != nil {
		e.Fatal(err)
	}
	e.until(p.name+" subscribed to "+filter, func() bool {
		if p.count(mqttgame.EventSubscribeFailed, filter) > 0 {
			e.Fatalf("%s: subscription to %s refused: %v", p.name, filter, p.Err())
		}
		return p.count(mqttgame.EventSubscribed, filter) > n
	}, p)
}

// publish publishes and fails the case if the client refused.
func (e *env) publish(p *peer, m *mqttgame.Message) mqttgame.PublishID {
	e.Helper()
	id, err := p.PublishMessage(m)
	if err != nil {
		e.Fatalf("%s: publish to %s: %v", p.name, m.Topic, err)
	}
	p.qos[id] = m.QoS
	return id
}

// delivered waits until the broker acknowledged the publishes; QoS 0
// ones have no acknowledgement and are skipped.
func (e *env) delivered(p *peer, ids ...mqttgame.PublishID) {
	e.Helper()
	e.until(p.name+"'s publishes delivered", func() bool {
		for _, id := range ids {
			if p.qos[id] == 0 {
				continue
			}
			if p.saw(mqttgame.EventPublishFailed, id) {
				e.Fatalf("%s: publish #%d failed: %v", p.name, id, p.Err())
			}
			if !p.saw(mqttgame.EventDelivered, id) {
				return false
			}
		}
		return true
	}, p)
}

var barrierSeq atomic.Int64

// barrier makes sure the receiver has been sent everything the broker
// routed to it before from's next publish: from publishes a marker at
// QoS 1 to a topic only the receiver subscribes to (subscribing it first
// if needed), and the case waits for it. A broker forwards one client's
// messages in order, so what from published before has been handled.
func (e *env) barrier(from, to *peer) {
	e.Helper()
	topic := e.topic("sync/" + to.name + "/x")
	if !to.IsSubscribed(topic) {
		e.subscribe(to, topic, mqttgame.SubscribeOptions{QoS: 1})
	}
	marker := fmt.Sprint("barrier ", barrierSeq.Add(1))
	e.publish(from, &mqttgame.Message{Topic: topic, Payload: []byte(marker), QoS: 1})
	e.until(to.name+" reached the barrier", func() bool {
		for _, m := range to.got(topic) {
			if string(m.Payload) == marker {
				return true
			}
		}
		return false
	}, from, to)
}

package cluster

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// waitFor bounds every wait for something the network should do; the
// machine may be busy with other tests.
const waitFor = 15 * time.Second

// env is what a case runs in: a bed, a transport, a topic prefix.
type env struct {
	*testing.T
	bedName, transport, caseName string
	prefix                       string
	bed                          bed
	*casematrix.Case
}

// newEnv makes the env of c, on bed b.
func newEnv(t *testing.T, c *casematrix.Case, b bed) *env {
	e := &env{T: t, bedName: c.Target, transport: c.Transport, caseName: c.Cell.Case, bed: b, Case: c}
	e.prefix = fmt.Sprintf("cl-%s-%s-%s", e.bedName, e.transport, strings.ReplaceAll(e.caseName, "_", "-"))
	return e
}

func (e *env) topic(rel string) string { return e.prefix + "/" + rel }
func (e *env) id(name string) string   { return e.prefix + "-" + name }

// peer is a client of the case, ticked as a game loop would, keeping
// every message and event it showed.
type peer struct {
	*mqttgame.Client
	name   string
	msgs   []mqttgame.Message
	events []mqttgame.Event
	times  []time.Time // when each event showed
}

// client makes a peer of node (0 for A, 1 for B) over the case's
// transport, with FIFO delivery so that every message is seen.
func (e *env) client(node int, name string, edit func(*mqttgame.Options)) *peer {
	return e.clientAt([]string{e.bed.url(node, e.transport)}, name, edit)
}

// clientAt makes a peer with the given broker URLs.
func (e *env) clientAt(urls []string, name string, edit func(*mqttgame.Options)) *peer {
	e.Helper()
	user, password := e.bed.login()
	o := &mqttgame.Options{
		Brokers:        urls,
		ClientID:       e.id(name),
		Username:       user,
		Password:       password,
		DataLoss:       mqttgame.FIFO,
		TopicQueueSize: 1024,
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
	return &peer{Client: c, name: name}
}

// logger returns a logger whose lines the test prints only if it fails.
func (e *env) logger(name string) *slog.Logger {
	w := &syncbuf.Buffer{}
	e.Cleanup(func() {
		if e.Failed() {
			e.Logf("log of %s:\n%s", name, tail(w.String(), 20000))
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (p *peer) tick() {
	p.Update()
	n := len(p.events)
	p.events = p.AppendEvents(p.events)
	now := time.Now()
	for range len(p.events) - n {
		p.times = append(p.times, now)
	}
	p.msgs = p.AppendMessages(p.msgs, "#")
}

// payloads returns the payloads the peer showed on topics matching
// filter, without ready's probes.
func (p *peer) payloads(filter string) []string {
	var out []string
	for _, m := range p.msgs {
		if mqttgame.Match(filter, m.Topic) && string(m.Payload) != probe {
			out = append(out, string(m.Payload))
		}
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

func (p *peer) last(kind mqttgame.EventKind) (mqttgame.Event, bool) {
	for i := len(p.events) - 1; i >= 0; i-- {
		if p.events[i].Kind == kind {
			return p.events[i], true
		}
	}
	return mqttgame.Event{}, false
}

// until ticks the peers until cond holds, failing the case after limit.
func (e *env) until(limit time.Duration, what string, cond func() bool, peers ...*peer) {
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

// idle ticks the peers for d: for cases where nothing should happen.
func (e *env) idle(d time.Duration, peers ...*peer) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		for _, p := range peers {
			p.tick()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) connect(peers ...*peer) {
	e.Helper()
	for _, p := range peers {
		n := p.count(mqttgame.EventConnected, "")
		if err := p.Connect(); err != nil {
			e.Fatal(err)
		}
		e.until(waitFor, p.name+" connected", func() bool { return p.count(mqttgame.EventConnected, "") > n }, p)
	}
}

func (e *env) disconnect(p *peer) {
	e.Helper()
	n := p.count(mqttgame.EventDisconnected, "")
	p.Disconnect()
	e.until(waitFor, p.name+" disconnected", func() bool { return p.count(mqttgame.EventDisconnected, "") > n }, p)
}

// subscribe subscribes the peer and waits for the broker's grant.
func (e *env) subscribe(p *peer, filter string, qos mqttgame.QoS) {
	e.Helper()
	n := p.count(mqttgame.EventSubscribed, filter)
	if err := p.Subscribe(filter, qos); err != nil {
		e.Fatal(err)
	}
	e.until(waitFor, p.name+" subscribed to "+filter, func() bool {
		if p.count(mqttgame.EventSubscribeFailed, filter) > 0 {
			e.Fatalf("%s: subscription to %s refused: %v", p.name, filter, p.Err())
		}
		return p.count(mqttgame.EventSubscribed, filter) > n
	}, p)
}

func (e *env) publish(p *peer, topic, payload string, qos mqttgame.QoS, retain bool) mqttgame.PublishID {
	e.Helper()
	id, err := p.PublishString(topic, payload, qos, retain)
	if err != nil {
		e.Fatalf("%s: publish to %s: %v", p.name, topic, err)
	}
	return id
}

// delivered waits until the peer has no publish queued or in flight,
// and none failed.
func (e *env) delivered(p *peer) {
	e.Helper()
	e.until(waitFor, p.name+"'s publishes delivered", func() bool {
		if p.count(mqttgame.EventPublishFailed, "") > 0 {
			ev, _ := p.last(mqttgame.EventPublishFailed)
			e.Fatalf("%s: %v", p.name, ev)
		}
		s := p.Stats()
		return s.Queued == 0 && s.InFlight == 0
	}, p)
}

const probe = "ready?"

// ready makes sure a subscription of sub, made on one node, is in force
// on the other before the case publishes there: from publishes probes to
// topic until sub shows one. (A cluster or a bridge spreads a new
// subscription in its own time.)
func (e *env) ready(from, sub *peer, topic string) {
	e.Helper()
	n := 0
	e.until(waitFor, sub.name+"'s subscription reaching "+from.name+"'s node", func() bool {
		for _, m := range sub.msgs {
			if m.Topic == topic && string(m.Payload) == probe {
				return true
			}
		}
		if n%100 == 0 {
			e.publish(from, topic, probe, 0, false)
		}
		n++
		return false
	}, from, sub)
}

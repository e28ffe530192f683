// Package gamepeer is a client as the e2e suites drive it: ticked as a
// game loop would, keeping every message and event it showed, with the
// waits a case needs (connected, subscribed, a condition). It is for the
// project's tests.
package gamepeer

import (
	"log/slog"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// Peer is a client ticked as a game loop would, keeping every message
// and event it showed.
type Peer struct {
	*mqttgame.Client
	Name   string
	Msgs   []mqttgame.Message
	Events []mqttgame.Event
	Times  []time.Time // when each event showed
	Extra  []string    // $-filters to collect too ("#" does not match $-topics)
	Ignore string      // a payload Payloads leaves out (a suite's probes)

	// QoS holds the QoS of each publish the test records in it.
	QoS map[mqttgame.PublishID]mqttgame.QoS
}

// New returns a peer of c named name.
func New(c *mqttgame.Client, name string) *Peer {
	return &Peer{Client: c, Name: name, QoS: map[mqttgame.PublishID]mqttgame.QoS{}}
}

// Tick runs one tick of the peer and keeps what it showed.
func (p *Peer) Tick() {
	p.Update()
	n := len(p.Events)
	p.Events = p.AppendEvents(p.Events)
	now := time.Now()
	for range len(p.Events) - n {
		p.Times = append(p.Times, now)
	}
	p.Msgs = p.AppendMessages(p.Msgs, "#")
	for _, f := range p.Extra {
		p.Msgs = p.AppendMessages(p.Msgs, f)
	}
}

// Got returns the messages the peer showed on topics matching filter.
func (p *Peer) Got(filter string) []mqttgame.Message {
	var out []mqttgame.Message
	for _, m := range p.Msgs {
		if mqttgame.Match(filter, m.Topic) {
			out = append(out, m)
		}
	}
	return out
}

// Payloads returns the payloads of Got(filter), in order, without
// Ignore's.
func (p *Peer) Payloads(filter string) []string {
	var out []string
	for _, m := range p.Got(filter) {
		if p.Ignore == "" || string(m.Payload) != p.Ignore {
			out = append(out, string(m.Payload))
		}
	}
	return out
}

// Count returns how many events of a kind the peer showed (for topic,
// unless it is "").
func (p *Peer) Count(kind mqttgame.EventKind, topic string) int {
	n := 0
	for _, ev := range p.Events {
		if ev.Kind == kind && (topic == "" || ev.Topic == topic) {
			n++
		}
	}
	return n
}

// Saw reports whether the peer showed an event of a kind for publish id
// (any publish, if id is 0).
func (p *Peer) Saw(kind mqttgame.EventKind, id mqttgame.PublishID) bool {
	for _, ev := range p.Events {
		if ev.Kind == kind && (id == 0 || ev.ID == id) {
			return true
		}
	}
	return false
}

// Last returns the latest event of a kind the peer showed.
func (p *Peer) Last(kind mqttgame.EventKind) (mqttgame.Event, bool) {
	for i := len(p.Events) - 1; i >= 0; i-- {
		if p.Events[i].Kind == kind {
			return p.Events[i], true
		}
	}
	return mqttgame.Event{}, false
}

// Logger returns a logger whose lines t prints only if it fails: the
// last max bytes of them (all, if max is 0).
func Logger(t testing.TB, name string, max int) *slog.Logger {
	w := &syncbuf.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			s := w.String()
			if max > 0 && len(s) > max {
				s = "…" + s[len(s)-max:]
			}
			t.Logf("log of %s:\n%s", name, s)
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Waits are a test's waits on its peers: each fails T after Limit,
// scaled to the machine's load, logging what each peer shows.
type Waits struct {
	T     testing.TB
	Limit time.Duration
}

// Until ticks the peers until cond holds after a tick.
func (w Waits) Until(what string, cond func() bool, peers ...*Peer) {
	w.T.Helper()
	w.UntilWithin(w.Limit, what, cond, peers...)
}

// UntilWithin is Until with limit in place of Limit.
func (w Waits) UntilWithin(limit time.Duration, what string, cond func() bool, peers ...*Peer) {
	w.T.Helper()
	mqtttest.TickUntilWithin(w.T, limit, what, func() {
		for _, p := range peers {
			p.Tick()
		}
	}, cond, func() {
		for _, p := range peers {
			w.T.Logf("%s: connected=%v err=%v stats=%+v events=%v", p.Name, p.IsConnected(), p.Err(), p.Stats(), p.Events)
		}
	})
}

// Idle ticks the peers for d: for cases where time passing is the point
// (keepalives, expiry, something that must not happen), not a way to
// wait for something to happen.
func (w Waits) Idle(d time.Duration, peers ...*Peer) {
	mqtttest.TickFor(d, func() {
		for _, p := range peers {
			p.Tick()
		}
	})
}

// Connect connects the peers and waits until they are.
func (w Waits) Connect(peers ...*Peer) {
	w.T.Helper()
	for _, p := range peers {
		n := p.Count(mqttgame.EventConnected, "")
		if err := p.Connect(); err != nil {
			w.T.Fatal(err)
		}
		w.Until(p.Name+" connected", func() bool { return p.Count(mqttgame.EventConnected, "") > n }, p)
	}
}

// Disconnect disconnects the peer gracefully and waits until it is.
func (w Waits) Disconnect(p *Peer) {
	w.T.Helper()
	n := p.Count(mqttgame.EventDisconnected, "")
	p.Disconnect()
	w.Until(p.Name+" disconnected", func() bool { return p.Count(mqttgame.EventDisconnected, "") > n }, p)
}

// Subscribe subscribes the peer and waits for the broker's answer to
// this very SUBSCRIBE; it fails T if the broker refused.
func (w Waits) Subscribe(p *Peer, filter string, opts mqttgame.SubscribeOptions) {
	w.T.Helper()
	n := p.Count(mqttgame.EventSubscribed, filter)
	if err := p.SubscribeWith(filter, opts); err != nil {
		w.T.Fatal(err)
	}
	w.Until(p.Name+" subscribed to "+filter, func() bool {
		if p.Count(mqttgame.EventSubscribeFailed, filter) > 0 {
			w.T.Fatalf("%s: subscription to %s refused: %v", p.Name, filter, p.Err())
		}
		return p.Count(mqttgame.EventSubscribed, filter) > n
	}, p)
}

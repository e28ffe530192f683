package broker_test

import (
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// routeBlocker is a broker hook that holds up, inside mochi's routing,
// the first delivery of a topic to a client ID until released: mochi
// checks the subscriber's access just before it puts the message into
// the subscriber's session.
type routeBlocker struct {
	mqtt.HookBase
	id, topic string
	once      sync.Once
	routing   chan struct{} // closed once the delivery is held
	release   chan struct{} // closed by the test to let it go on
}

func newRouteBlocker(id, topic string) *routeBlocker {
	return &routeBlocker{id: id, topic: topic, routing: make(chan struct{}), release: make(chan struct{})}
}

func (h *routeBlocker) ID() string           { return "route-blocker" }
func (h *routeBlocker) Provides(b byte) bool { return b == mqtt.OnACLCheck }

func (h *routeBlocker) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if !write && cl.ID == h.id && topic == h.topic {
		h.once.Do(func() {
			close(h.routing)
			<-h.release
		})
	}
	return true
}

// handoverScene is a subscriber session ("taker") that a second client
// takes over while a QoS 2 message to it is held up in routing.
type handoverScene struct {
	block          *routeBlocker
	pub, old, next *mqttgame.Client
}

func startHandover(t *testing.T, takeoverWait time.Duration) *handoverScene {
	t.Helper()
	s := &handoverScene{block: newRouteBlocker("taker", "handover/held")}
	o := &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{s.block} }}
	broker.SetTakeoverWait(o, takeoverWait)
	b := mqtttest.StartBroker(t, o)
	// Before the broker closes (cleanups run last first): a delivery
	// still held would keep it from closing.
	t.Cleanup(func() {
		select {
		case <-s.block.release:
		default:
			close(s.block.release)
		}
	})
	session := func(o *mqttgame.Options) {
		o.ClientID = "taker"
		o.SessionExpiry = time.Hour
		o.ResumeSession = true
	}
	s.old = newClient(t, b.URL(), session)
	s.old.Connect()
	if err := s.old.Subscribe("handover/#", 2); err != nil {
		t.Fatal(err)
	}
	s.pub = newClient(t, b.URL(), nil)
	s.pub.Connect()
	tickUntil(t, "subscribed", func() bool { return subscribed(s.old, "handover/#")() && s.pub.IsConnected() }, s.old, s.pub)
	if _, err := s.pub.PublishString("handover/held", "m", 2, false); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "the message held in routing", func() bool {
		select {
		case <-s.block.routing:
			return true
		default:
			return false
		}
	}, s.pub, s.old)

	// The takeover: the broker ends the old connection first.
	s.next = newClient(t, b.URL(), session)
	if err := s.next.Subscribe("handover/#", 2); err != nil {
		t.Fatal(err)
	}
	s.next.Connect()
	tickUntil(t, "the old connection ended", func() bool { return !s.old.IsConnected() }, s.old, s.next)
	return s
}

// finish waits for the new session, sends one more message, and checks
// that the new session showed the held message exactly once before it.
func (s *handoverScene) finish(t *testing.T) {
	t.Helper()
	held, sent := 0, false
	var msgs []mqttgame.Message
	tickUntil(t, "the message after the held one", func() bool {
		msgs = s.next.AppendMessages(msgs[:0], "handover/held")
		held += len(msgs)
		if !sent && s.next.IsConnected() {
			if _, err := s.pub.PublishString("handover/after", "end", 2, false); err != nil {
				t.Fatal(err)
			}
			sent = true
		}
		return s.next.OnMessage("handover/after")
	}, s.next, s.pub)
	if held != 1 {
		t.Fatalf("the new session showed the held message %d times, want once", held)
	}
}

// TestTakeoverWaitsForRouting: a session takeover waits for a message
// being routed to the session, which the new session then gets from the
// old one's in-flight messages, once.
func TestTakeoverWaitsForRouting(t *testing.T) {
	t.Parallel()
	s := startHandover(t, time.Minute) // only routing ending lets it go on
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		s.next.Update()
		if s.next.IsConnected() {
			t.Fatal("the takeover went on while a message to the session was being routed")
		}
		time.Sleep(time.Millisecond)
	}
	close(s.block.release)
	s.finish(t)
}

// TestTakeoverPastStuckRouting: a message that stays stuck in routing
// holds a takeover up for a bounded time only; when it is routed at last,
// into the old session, the new session gets it, once.
func TestTakeoverPastStuckRouting(t *testing.T) {
	t.Parallel()
	s := startHandover(t, 200*time.Millisecond)
	held := 0
	var msgs []mqttgame.Message
	tickUntil(t, "the new session connected while the message is stuck", func() bool {
		msgs = s.next.AppendMessages(msgs[:0], "handover/held")
		held += len(msgs)
		return s.next.IsConnected()
	}, s.next)
	if held != 0 {
		t.Fatal("the new session showed the message still stuck in routing")
	}
	close(s.block.release)
	s.finish(t)
}

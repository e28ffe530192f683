package mochifix

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// takeoverHooks returns the repair of session takeovers: the guard first,
// the routing gate last, each connection forgiving its writes.
func takeoverHooks(o *serverOptions, wait time.Duration, test ...mqtt.Hook) {
	o.hooks = func(srv *mqtt.Server) []mqtt.Hook {
		gate := NewRouteGate(srv.Options.Capabilities)
		return append(append([]mqtt.Hook{NewSessionGuard(srv, gate, wait, nil)}, test...), gate)
	}
	o.wrap = func(c net.Conn) net.Conn { return NewForgivingConn(c, nil) }
}

// takeoverServer starts a mochi server with the test's hook h: bare, or
// with the repair of session takeovers (takeoverHooks), whose takeovers
// wait up to wait for the messages routing.
func takeoverServer(t *testing.T, fixed bool, wait time.Duration, h mqtt.Hook) *server {
	t.Helper()
	var o serverOptions
	if fixed {
		takeoverHooks(&o, wait, h)
	} else {
		o.hooks = func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{h} }
	}
	return startServer(t, o)
}

// routeHold holds the delivery of a topic to a client in mochi's routing,
// after mochi looked the client's session up and before it puts the
// message into it: mochi checks the subscriber's access in between.
type routeHold struct {
	mqtt.HookBase
	id, topic string
	*hold
}

func (h *routeHold) ID() string           { return "route-hold" }
func (h *routeHold) Provides(b byte) bool { return b == mqtt.OnACLCheck }

func (h *routeHold) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if !write && cl.ID == h.id && topic == h.topic {
		h.wait()
	}
	return true
}

// TestTakeoverCopy: a QoS 1 message routed to a session while a new
// connection takes the session over goes, on bare mochi, into the old
// session object, and the new session never gets it; with the repair the
// new session gets it.
func TestTakeoverCopy(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			h := &routeHold{id: "taker", topic: "t/held", hold: newHold(t)}
			// The takeover waits a moment for the held message, then goes
			// on: the message arrives late at the old session.
			s := takeoverServer(t, fixed, 100*time.Millisecond, h)
			t.Cleanup(h.let)
			taker := session{id: "taker", keep: true}
			old, _ := dial(t, s.addr, taker)
			old.subscribe("t/#", 1)
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("t/held", "m", 1, 1)
			h.holding(t)

			next, ca := dial(t, s.addr, taker)
			if !ca.SessionPresent {
				t.Fatal("the session was not resumed")
			}
			h.let()
			if ack := pub.read(); ack.Type != packets.PUBACK {
				t.Fatalf("publisher: got %v", ack)
			}
			if fixed {
				// The held message comes, if not before the next then after
				// it: the gate opened with the CONNACK.
				next.until("t/held")
				return
			}
			pub.publish("t/after", "m", 1, 2)
			if slices.Contains(next.until("t/after"), "t/held") {
				gone(t, "takeover.go", "a message routed during a takeover reached the new session")
			}
		})
	}
}

// qosHold holds mochi, for a QoS 2 PUBLISH from a client, after it
// recorded the message as received and before it writes the PUBREC.
type qosHold struct {
	mqtt.HookBase
	id string
	*hold
}

func (h *qosHold) ID() string           { return "qos-hold" }
func (h *qosHold) Provides(b byte) bool { return b == mqtt.OnQosPublish }

func (h *qosHold) OnQosPublish(cl *mqtt.Client, pk mpackets.Packet, sent int64, resends int) {
	if cl.ID == h.id && pk.FixedHeader.Type == mpackets.Pubrec {
		h.wait()
	}
}

// TestTakeoverDrain: a QoS 2 message that the old connection is handling
// when a new one takes the session over is, on bare mochi, recorded as
// received and never routed, and the client's resend is refused; with the
// repair it is routed, once.
func TestTakeoverDrain(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			h := &qosHold{id: "dup", hold: newHold(t)}
			s := takeoverServer(t, fixed, time.Second, h)
			t.Cleanup(h.let)
			sub, _ := dial(t, s.addr, session{id: "sub"})
			sub.subscribe("d/#", 0)
			dup := session{id: "dup", keep: true}
			old, _ := dial(t, s.addr, dup)
			old.publish("d/held", "m", 2, 1)
			h.holding(t)

			// The takeover ends the old connection; the message is let go
			// once it has.
			type dialed struct {
				c   *conn
				err error
			}
			took := make(chan dialed, 1)
			go func() {
				c, _, err := tryDial(t, s.addr, dup)
				took <- dialed{c, err}
			}()
			if !old.ended() {
				t.Fatal("the takeover did not end the old connection")
			}
			h.let()
			d := <-took
			if d.err != nil {
				t.Fatal(d.err)
			}
			// The client sends the message again, as MQTT asks of it (the
			// broker may answer it, or send the PUBREC it holds first).
			n := d.c.resendCounted(sub, "d/held", "d/after")
			t.Logf("the subscriber got the message %d times", n)
			switch {
			case fixed && n != 1:
				t.Errorf("the subscriber got the message %d times, want once", n)
			case !fixed && n != 0:
				gone(t, "takeover.go", "a QoS 2 message handled during a takeover was routed")
			}
		})
	}
}

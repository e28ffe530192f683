package mochifix

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// endHold holds the end of a client's session in mochi, after mochi
// removed its subscriptions and before it deletes the client ID from its
// clients; it also tells when the next connection with that client ID
// starts establishing its session.
type endHold struct {
	mqtt.HookBase
	id string
	*hold

	mu           sync.Mutex
	sessions     int
	establishing chan struct{} // closed when the second session starts establishing
}

func (h *endHold) ID() string { return "end-hold" }
func (h *endHold) Provides(b byte) bool {
	return b == mqtt.OnUnsubscribed || b == mqtt.OnSessionEstablish
}

func (h *endHold) OnUnsubscribed(cl *mqtt.Client, pk mpackets.Packet) {
	if cl.ID == h.id {
		h.wait()
	}
}

func (h *endHold) OnSessionEstablish(cl *mqtt.Client, pk mpackets.Packet) {
	if cl.ID != h.id {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions++; h.sessions == 2 {
		close(h.establishing)
	}
}

// firstEnd returns a function for serverOptions.ended that closes the
// channel it returns when mochi is done with its first connection, then
// calls then, if not nil.
func firstEnd(then func(net.Conn)) (func(net.Conn), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(c net.Conn) {
		once.Do(func() { close(ch) })
		if then != nil {
			then(c)
		}
	}, ch
}

// TestSessionEnd: a client with no session expiry subscribes, sends
// DISCONNECT, and connects again with Clean Start off while mochi is
// still removing its session. On bare mochi the new connection resumes
// the ended session (CONNACK says Session Present), and the old one's end
// then deletes the new connection from mochi's clients, so that nothing is
// routed to it. With the repair the new connection waits for the end of
// the old one, starts a new session, and gets what it subscribes to.
func TestSessionEnd(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			h := &endHold{id: "cycle", hold: newHold(t), establishing: make(chan struct{})}
			var o serverOptions
			var oldEnded <-chan struct{}
			if fixed {
				var fix *SessionEnd
				o.hooks = func(srv *mqtt.Server) []mqtt.Hook {
					gate := NewRouteGate(srv.Options.Capabilities)
					fix = NewSessionEnd(srv)
					return []mqtt.Hook{h, NewSessionGuard(srv, gate, time.Second, nil), fix, gate}
				}
				o.wrap = func(c net.Conn) net.Conn { return NewForgivingConn(c, nil) }
				o.ended, oldEnded = firstEnd(func(c net.Conn) { fix.ConnEnded(c) })
			} else {
				o.hooks = func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{h} }
				o.ended, oldEnded = firstEnd(nil)
			}
			s := startServer(t, o)
			old, _ := dial(t, s.addr, session{id: "cycle"})
			old.subscribe("t", 1)
			old.send(packets.NewControlPacket(packets.DISCONNECT))
			h.holding(t)

			if !fixed {
				_, ca := dial(t, s.addr, session{id: "cycle", resume: true})
				h.let()
				select {
				case <-oldEnded:
				case <-time.After(waitFor):
					t.Fatal("mochi did not finish with the old connection")
				}
				_, found := s.srv.Clients.Get("cycle")
				t.Logf("session present: %v; new connection among mochi's clients: %v", ca.SessionPresent, found)
				if !ca.SessionPresent || found {
					gone(t, "sessionend.go", "a new connection resumed no ended session, or kept its place in mochi's clients")
				}
				return
			}

			type dialed struct {
				c   *conn
				ca  *packets.Connack
				err error
			}
			took := make(chan dialed, 1)
			go func() {
				c, ca, err := tryDial(t, s.addr, session{id: "cycle", resume: true})
				took <- dialed{c, ca, err}
			}()
			select {
			case <-h.establishing:
			case <-time.After(waitFor):
				t.Fatal("the new connection did not start establishing its session")
			}
			h.let()
			d := <-took
			if d.err != nil {
				t.Fatal(d.err)
			}
			select {
			case <-oldEnded:
			default:
				t.Error("the new connection got its CONNACK before mochi was done with the old one")
			}
			if d.ca.SessionPresent {
				t.Error("CONNACK says Session Present: the session ended with the old connection")
			}
			d.c.subscribe("t", 1)
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("t", "m", 1, 1)
			d.c.until("t")
		})
	}
}

package mochifix

// # A reconnection resumes the session that just ended, and loses its place
//
// What is wrong: when a connection whose session ends with it (session
// expiry 0, or a clean MQTT 3 session) ends, its goroutine removes the
// session from mochi after the OnDisconnect hooks: it clears its
// subscriptions and in-flight messages, then deletes the client ID from
// mochi's clients, unless the session was taken over by then. A new
// connection with the same client ID that connects in between (a client
// that sent DISCONNECT and at once connects again) still finds the ended
// session:
//
//   - it resumes it: CONNACK says Session Present although the session
//     ended, and a client that trusts it does not subscribe again;
//   - and the old goroutine, past its check for a takeover, goes on
//     removing: the subscriptions by client ID, then the client ID from
//     mochi's clients, which is now the new connection's. mochi routes no
//     message to a client it does not find: the new connection receives
//     nothing, even on what it subscribes to afterwards.
//
// The same holds for a takeover of a live connection whose session ends
// with it.
//
// Upstream: no issue or pull request found for this window. The closest
// is mochi-mqtt/server#173 ("reconnection problem when use same client
// id": a new connection with the client ID of an old one received
// nothing); mochi v2.7.9 keeps the end of a session from removing anything
// once a takeover marked it, but the takeover marks it too late when the
// old connection is already past that check. The hazard was first named
// in mochi-mqtt/server#52.
//
// Repair: SessionEnd, below. A new connection with the client ID of a
// connection mochi is not done with ends that one (the session guard of
// takeover.go has usually ended it already) and waits until mochi is done
// with it, its session's removal included, before it looks for a session
// to resume. A session that ended with the old connection is then gone:
// the new connection starts a new one (CONNACK without Session Present),
// also when it takes over a live connection with no session expiry.

import (
	"net"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// endWait bounds the wait for mochi to be done with an old connection.
const endWait = 2 * time.Second

// SessionEnd makes a new connection wait, before mochi looks for the
// session it resumes, until mochi is done with the old connection of its
// client ID. It is a hook, added after the SessionGuard, and ConnEnded
// must be called when mochi is done with a connection (see Tracker).
type SessionEnd struct {
	mqtt.HookBase
	srv *mqtt.Server

	mu      sync.Mutex
	running map[net.Conn]chan struct{} // connections past CONNECT; closed when mochi is done with one
}

// NewSessionEnd returns the repair for srv.
func NewSessionEnd(srv *mqtt.Server) *SessionEnd {
	return &SessionEnd{srv: srv, running: make(map[net.Conn]chan struct{})}
}

// ID names the hook.
func (e *SessionEnd) ID() string { return "mochifix-session-end" }

// Provides says which events the hook handles.
func (e *SessionEnd) Provides(b byte) bool { return b == mqtt.OnSessionEstablish }

// OnSessionEstablish runs before mochi looks for the session cl resumes:
// the old connection of cl's client ID, if mochi is not done with it, ends
// first, and mochi finishes with it.
func (e *SessionEnd) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	e.mu.Lock()
	if cl.Net.Conn != nil {
		e.running[cl.Net.Conn] = make(chan struct{})
	}
	var done chan struct{}
	old, ok := e.srv.Clients.Get(cl.ID)
	if ok && old != cl && old.Net.Conn != nil {
		done = e.running[old.Net.Conn]
	}
	e.mu.Unlock()
	if done == nil {
		return // none, or mochi is done with it
	}
	if !old.Closed() {
		WriteDisconnect(old, packets.ErrSessionTakenOver)
		if !e.srv.Options.Capabilities.Compatibilities.PassiveClientDisconnect {
			old.Stop(packets.ErrSessionTakenOver)
		}
	}
	select {
	case <-done:
	case <-time.After(endWait):
		e.srv.Log.Warn("broker: a new connection stopped waiting for the end of the old one with its client ID", "client", cl.ID)
	}
}

// ConnEnded records that mochi is done with connection c.
func (e *SessionEnd) ConnEnded(c net.Conn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if done, ok := e.running[c]; ok {
		close(done)
		delete(e.running, c)
	}
}

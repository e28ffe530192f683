package mochifix

// # A session takeover loses QoS 1 and 2 messages
//
// What is wrong: in mochi every resumption of a session is a takeover,
// and every shutdown stops all sessions, and both lose messages:
//
//   - mochi stops the old connection (DisconnectClient) while its
//     goroutine may still be handling PUBLISH packets it already read. For
//     a QoS 2 message it then records the PUBREC in the session, fails to
//     write it (the client is closed), and returns before routing the
//     message: the message is lost, and the client's resend is refused as
//     "packet identifier in use".
//   - inheritClientSession copies the in-flight messages of the old
//     session object to the new one, clears the old one, and only then
//     makes the new one the client's. A publisher that looked the client
//     up in between puts its message into the old object, which nobody
//     reads again.
//
// Upstream: no issue or pull request found for either. The closest is
// mochi-mqtt/server#180 ("Correctly identify and clean taken-over
// sessions"), which made the takeover mark and clear the old session but
// left both windows open.
//
// Repair: the SessionGuard below, with the RouteGate (routegate.go), and
// ForgivingConn (pubrecwrite.go) for the writes to a drained connection.

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// drainTimeout bounds the wait for an old connection to finish the
// packets it has already read.
const drainTimeout = 2 * time.Second

// pendingWait bounds the wait, at shutdown, for connections between their
// CONNACK and their first read.
const pendingWait = 500 * time.Millisecond

// SessionGuard keeps mochi from losing QoS 1 and 2 messages when a
// session changes hands or the broker shuts down:
//
//   - It closes the old connection's socket instead of stopping the client,
//     and waits until its goroutine has handled what it read, before the
//     takeover or shutdown goes on.
//   - It shuts the routing gate from before the copy until the new session
//     has its CONNACK; every QoS 1 and 2 PUBLISH a client sends routes
//     through that gate, so none routes during the copy. Messages the
//     broker sends on its own (wills, inline publishes) do not pass the
//     gate, nor does one that kept the takeover waiting too long: the guard
//     notices such late messages and gives them to the new session once it
//     is established, or at once if it already is.
//
// It is a hook, and ConnEnded must be called when mochi is done with a
// connection (see Tracker).
type SessionGuard struct {
	mqtt.HookBase
	srv   *mqtt.Server
	store SessionStore // nil: sessions are not kept

	// routes is the routing gate; holder is the session that shut it,
	// until its CONNACK is sent or its connection ends.
	routes *RouteGate
	wait   time.Duration // how long a takeover waits for messages routing
	holder *mqtt.Client  // guarded by mu

	mu      sync.Mutex
	reading map[*mqtt.Client]chan struct{}             // sessions whose goroutine reads packets; closed when it ends
	pending map[*mqtt.Client]bool                      // sessions between their CONNECT and their first read
	late    map[string][]packets.Packet                // by client ID, waiting for the new session
	live    map[*mqtt.Client]bool                      // new sessions established
	copied  map[*mqtt.Client]map[uint16]packets.Packet // what each new session got from the old one
	forgot  map[string]map[uint16]bool                 // by client ID, records removed for late messages
}

// SessionStore keeps the in-flight messages of sessions on disk.
type SessionStore interface {
	// Save stores an in-flight message of cl's session.
	Save(cl *mqtt.Client, pk packets.Packet)
	// Forget removes one.
	Forget(cl *mqtt.Client, pk packets.Packet)
}

// NewSessionGuard returns the guard of srv's sessions. routes is the
// routing gate, added to srv as its last hook; a takeover waits up to wait
// for the messages routing when it starts. store keeps sessions on disk;
// nil if they are not kept.
func NewSessionGuard(srv *mqtt.Server, routes *RouteGate, wait time.Duration, store SessionStore) *SessionGuard {
	return &SessionGuard{
		srv:     srv,
		store:   store,
		routes:  routes,
		wait:    wait,
		reading: make(map[*mqtt.Client]chan struct{}),
		pending: make(map[*mqtt.Client]bool),
		late:    make(map[string][]packets.Packet),
		live:    make(map[*mqtt.Client]bool),
		copied:  make(map[*mqtt.Client]map[uint16]packets.Packet),
		forgot:  make(map[string]map[uint16]bool),
	}
}

// ID names the hook.
func (g *SessionGuard) ID() string { return "mochifix-session-guard" }

// Provides says which events the hook handles.
func (g *SessionGuard) Provides(b byte) bool {
	switch b {
	case mqtt.OnQosPublish, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketSent:
		return true
	}
	return false
}

// OnSessionEstablish runs before mochi takes an old session over: the old
// connection ends first, after handling what it read; then the new session
// shuts the routing gate until its CONNACK is sent.
func (g *SessionGuard) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	defer g.hold(cl)
	g.mu.Lock()
	for p := range g.pending {
		if p.Closed() { // its CONNACK failed: it never reads
			delete(g.pending, p)
		}
	}
	g.pending[cl] = true
	g.mu.Unlock()
	if old, ok := g.srv.Clients.Get(cl.ID); ok && old != cl {
		g.drain(old, packets.ErrSessionTakenOver)
	}
}

// hold shuts the routing gate for cl.
func (g *SessionGuard) hold(cl *mqtt.Client) {
	if !g.routes.shutAndWait(g.wait) {
		g.srv.Log.Warn("broker: a session takeover stopped waiting for messages still routing; a subscriber may not be reading", "client", cl.ID)
	}
	g.mu.Lock()
	g.holder = cl
	g.mu.Unlock()
}

// release opens the routing gate if cl shut it.
func (g *SessionGuard) release(cl *mqtt.Client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cl != nil && g.holder == cl {
		g.holder = nil
		g.routes.open()
	}
}

// OnPacketSent opens the routing gate once the session that shut it has
// its CONNACK: mochi made it the client's before sending that.
func (g *SessionGuard) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type == packets.Connack {
		g.release(cl)
	}
}

// ConnEnded opens the routing gate if the session that shut it never got
// its CONNACK out: mochi is done with its connection c.
func (g *SessionGuard) ConnEnded(c net.Conn) {
	g.mu.Lock()
	cl := g.holder
	g.mu.Unlock()
	if cl != nil && cl.Net.Conn == c {
		g.release(cl)
	}
}

// OnSessionEstablished runs as the session's goroutine starts reading
// packets; the new session gets what arrived late at the old one.
func (g *SessionGuard) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.pending, cl)
	g.reading[cl] = make(chan struct{})
	g.live[cl] = true
	// What mochi copied from the old session, before any of it can be
	// acknowledged and leave: a late message found here is no late one.
	copied := make(map[uint16]packets.Packet)
	forgot := g.forgot[cl.ID]
	for _, m := range cl.State.Inflight.GetAll(false) {
		copied[m.PacketID] = m
		if forgot[m.PacketID] {
			// Records are keyed by client ID and packet identifier, which
			// the old session shares: the record a late message of the old
			// one removed (OnQosPublish) was this one's too.
			g.save(cl, m)
		}
	}
	delete(g.forgot, cl.ID)
	g.copied[cl] = copied
	for _, m := range g.late[cl.ID] {
		g.deliver(cl, m)
	}
	delete(g.late, cl.ID)
}

// OnDisconnect runs when the session's goroutine stopped reading.
func (g *SessionGuard) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ch := g.reading[cl]; ch != nil {
		close(ch)
		delete(g.reading, cl)
	}
	delete(g.live, cl)
	delete(g.copied, cl)
	delete(g.pending, cl)
	if expire && !cl.IsTakenOver() {
		delete(g.late, cl.ID)
		delete(g.forgot, cl.ID)
	}
}

// drain tells cl why its connection ends, closes its socket, and waits
// until its goroutine has handled the packets already read. mochi then
// finds the session idle.
func (g *SessionGuard) drain(cl *mqtt.Client, why packets.Code) {
	g.mu.Lock()
	ch := g.reading[cl]
	g.mu.Unlock()
	if ch == nil {
		return
	}
	WriteDisconnect(cl, why)
	if cl.Net.Conn != nil {
		_ = cl.Net.Conn.Close()
	}
	select {
	case <-ch:
	case <-time.After(drainTimeout):
	}
}

// DrainAll ends every connection the way a takeover ends the old one, for
// a shutdown: each client is told first that the server is shutting down.
// Call it before mochi's Close.
func (g *SessionGuard) DrainAll() {
	// A client that has its CONNACK may not read yet: let it start, so it
	// is told too, rather than finding its connection closed.
	deadline := time.Now().Add(pendingWait)
	for {
		g.mu.Lock()
		waiting := 0
		for p := range g.pending {
			if !p.Closed() {
				waiting++
			}
		}
		g.mu.Unlock()
		if waiting == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	g.mu.Lock()
	clients := make([]*mqtt.Client, 0, len(g.reading))
	for cl := range g.reading {
		clients = append(clients, cl)
	}
	g.mu.Unlock()
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.drain(cl, packets.ErrServerShuttingDown)
		}()
	}
	wg.Wait()
}

// OnQosPublish sees every QoS 1 and 2 message mochi stores for a client;
// one stored on a session already taken over arrived late.
func (g *SessionGuard) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if !cl.IsTakenOver() || pk.FixedHeader.Type != packets.Publish {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cl.State.Inflight.Delete(pk.PacketID)
	// Saved under its first packet identifier, on the old session. The
	// record is keyed by client ID and packet identifier: if the new
	// session holds that identifier, its record is written again.
	g.forget(cl, pk)
	if next, ok := g.srv.Clients.Get(cl.ID); ok && next != cl && g.live[next] {
		if had, ok := next.State.Inflight.Get(pk.PacketID); ok {
			g.save(next, had)
		}
		g.deliver(next, pk)
		return
	}
	if g.forgot[cl.ID] == nil {
		g.forgot[cl.ID] = make(map[uint16]bool)
	}
	g.forgot[cl.ID][pk.PacketID] = true
	g.late[cl.ID] = append(g.late[cl.ID], pk)
}

// deliver puts a late message in cl's in-flight messages under a new
// packet identifier, has it saved, and sends it. A message that got into
// the copy mochi made is already there and is left alone. Called with mu
// held.
func (g *SessionGuard) deliver(cl *mqtt.Client, pk packets.Packet) {
	if had, ok := g.copied[cl][pk.PacketID]; ok && sameMessage(had, pk) {
		return
	}
	if had, ok := cl.State.Inflight.Get(pk.PacketID); ok && sameMessage(had, pk) {
		return
	}
	id, err := cl.NextPacketID()
	if err != nil {
		return // out of packet identifiers: mochi drops such messages too
	}
	pk.PacketID = uint16(id)
	pk.FixedHeader.Dup = false
	if cl.State.Inflight.Set(pk) {
		atomic.AddInt64(&g.srv.Info.Inflight, 1)
	}
	g.save(cl, pk)
	_ = cl.WritePacket(pk)
}

func sameMessage(a, b packets.Packet) bool {
	return a.FixedHeader.Type == b.FixedHeader.Type && a.TopicName == b.TopicName &&
		a.Created == b.Created && a.Origin == b.Origin && bytes.Equal(a.Payload, b.Payload)
}

func (g *SessionGuard) save(cl *mqtt.Client, pk packets.Packet) {
	if g.store != nil {
		g.store.Save(cl, pk)
	}
}

func (g *SessionGuard) forget(cl *mqtt.Client, pk packets.Packet) {
	if g.store != nil {
		g.store.Forget(cl, pk)
	}
}

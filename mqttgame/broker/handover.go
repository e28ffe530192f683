package broker

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

// sessionGuard keeps mochi-mqtt v2.7.9 from losing QoS 1 and 2 messages
// when a session changes hands. Every resumption of a session is a
// takeover in mochi, and every shutdown stops all sessions:
//
//   - mochi stops the old connection while its goroutine may still be
//     handling PUBLISH packets it already read. It then acknowledges a QoS
//     2 message and records that it has it, but never routes it: the
//     client's resend is refused as a duplicate. The guard closes the old
//     connection's socket instead and waits until its goroutine has
//     handled what it read, before the takeover or shutdown goes on.
//   - mochi copies the in-flight messages of the old session object to
//     the new one, clears the old one, and only then makes the new one the
//     client's. A publisher that looked the client up in between puts its
//     message into the old object, which nobody reads again. The guard
//     shuts the routing gate from before the copy until the new session
//     has its CONNACK; every QoS 1 and 2 PUBLISH a client sends routes
//     through that gate (packetLocks), so none routes during the copy.
//     Messages the broker sends on its own (wills, inline publishes) do
//     not pass the gate, nor does one that kept the takeover waiting too
//     long (see routeGate): the guard notices such late messages and gives
//     them to the new session once it is established, or at once if it
//     already is.
type sessionGuard struct {
	mqtt.HookBase
	srv   *mqtt.Server
	store *diskStore // nil without Options.DataDir; set before the broker serves

	// routes is the routing gate; holder is the session that shut it,
	// until its CONNACK is sent or its connection ends.
	routes routeGate
	holder *mqtt.Client // guarded by mu

	mu      sync.Mutex
	reading map[*mqtt.Client]chan struct{}             // sessions whose goroutine reads packets; closed when it ends
	pending map[*mqtt.Client]bool                      // sessions between their CONNECT and their first read
	late    map[string][]packets.Packet                // by client ID, waiting for the new session
	live    map[*mqtt.Client]bool                      // new sessions established
	copied  map[*mqtt.Client]map[uint16]packets.Packet // what each new session got from the old one
	forgot  map[string]map[uint16]bool                 // by client ID, records removed for late messages
}

func newSessionGuard(srv *mqtt.Server) *sessionGuard {
	return &sessionGuard{
		srv:     srv,
		reading: make(map[*mqtt.Client]chan struct{}),
		pending: make(map[*mqtt.Client]bool),
		late:    make(map[string][]packets.Packet),
		live:    make(map[*mqtt.Client]bool),
		copied:  make(map[*mqtt.Client]map[uint16]packets.Packet),
		forgot:  make(map[string]map[uint16]bool),
	}
}

func (g *sessionGuard) ID() string { return "session-guard" }

func (g *sessionGuard) Provides(b byte) bool {
	switch b {
	case mqtt.OnQosPublish, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketSent:
		return true
	}
	return false
}

// OnSessionEstablish runs before mochi takes an old session over: the old
// connection ends first, after handling what it read; then the new session
// shuts the routing gate until its CONNACK is sent.
func (g *sessionGuard) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
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
func (g *sessionGuard) hold(cl *mqtt.Client) {
	if !g.routes.shutAndWait(takeoverWait) {
		g.srv.Log.Warn("broker: a session takeover stopped waiting for messages still routing; a subscriber may not be reading", "client", cl.ID)
	}
	g.mu.Lock()
	g.holder = cl
	g.mu.Unlock()
}

// release opens the routing gate if cl shut it.
func (g *sessionGuard) release(cl *mqtt.Client) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cl != nil && g.holder == cl {
		g.holder = nil
		g.routes.open()
	}
}

// OnPacketSent opens the routing gate once the session that shut it has
// its CONNACK: mochi made it the client's before sending that.
func (g *sessionGuard) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type == packets.Connack {
		g.release(cl)
	}
}

// connEnded opens the routing gate if the session that shut it never got
// its CONNACK out: mochi is done with its connection c.
func (g *sessionGuard) connEnded(c net.Conn) {
	g.mu.Lock()
	cl := g.holder
	g.mu.Unlock()
	if cl != nil && cl.Net.Conn == c {
		g.release(cl)
	}
}

// OnSessionEstablished runs as the session's goroutine starts reading
// packets; the new session gets what arrived late at the old one.
func (g *sessionGuard) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
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
			g.store.save(cl, m)
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
func (g *sessionGuard) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
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
func (g *sessionGuard) drain(cl *mqtt.Client, why packets.Code) {
	g.mu.Lock()
	ch := g.reading[cl]
	g.mu.Unlock()
	if ch == nil {
		return
	}
	if cl.Properties.ProtocolVersion >= 5 {
		_ = cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			ReasonCode:  why.Code,
			Properties:  packets.Properties{ReasonString: why.Reason},
		})
	}
	if cl.Net.Conn != nil {
		_ = cl.Net.Conn.Close()
	}
	select {
	case <-ch:
	case <-time.After(drainTimeout):
	}
}

// drainAll ends every connection the same way, for a shutdown; each
// client is told first that the server is shutting down.
func (g *sessionGuard) drainAll() {
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
func (g *sessionGuard) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	if !cl.IsTakenOver() || pk.FixedHeader.Type != packets.Publish {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	cl.State.Inflight.Delete(pk.PacketID)
	// Saved under its first packet identifier, on the old session. The
	// record is keyed by client ID and packet identifier: if the new
	// session holds that identifier, its record is written again.
	g.store.forget(cl, pk)
	if next, ok := g.srv.Clients.Get(cl.ID); ok && next != cl && g.live[next] {
		if had, ok := next.State.Inflight.Get(pk.PacketID); ok {
			g.store.save(next, had)
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
func (g *sessionGuard) deliver(cl *mqtt.Client, pk packets.Packet) {
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
	g.store.save(cl, pk)
	_ = cl.WritePacket(pk)
}

func sameMessage(a, b packets.Packet) bool {
	return a.FixedHeader.Type == b.FixedHeader.Type && a.TopicName == b.TopicName &&
		a.Created == b.Created && a.Origin == b.Origin && bytes.Equal(a.Payload, b.Payload)
}

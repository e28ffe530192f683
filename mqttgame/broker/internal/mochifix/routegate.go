package mochifix

import (
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The routing gate is the half of the takeover repair (takeover.go) that
// QoS 1 and 2 PUBLISH packets pass through: see the defect described
// there.

// RouteGate keeps message routing and session takeovers apart. Any number
// of messages route at once; a takeover shuts the gate, so that messages
// wait to route until it is done, and waits for those already routing.
// Routing writes to subscribers' connections, and a connection nobody
// reads blocks that write: the takeover stops waiting after a while, so
// such a message holds up neither it nor the messages behind it for
// longer (what the stuck message still routes late, the session guard
// repairs).
//
// RouteGate is a hook: every QoS 1 and 2 PUBLISH a client sends routes
// through it, from the moment mochi reads it until it is processed. It
// must be added after every hook that can drop a packet on reading.
type RouteGate struct {
	mqtt.HookBase
	caps *mqtt.Capabilities // the broker's, for validation

	mu      sync.Mutex
	routing int           // messages routing now
	idle    chan struct{} // closed when routing drops to 0 while a takeover waits
	shut    chan struct{} // non-nil while the gate is shut; closed as it opens
}

// waitOpen returns, with mu held, once the gate is open. Called with mu
// held.
func (g *RouteGate) waitOpen() {
	for g.shut != nil {
		ch := g.shut
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
}

// enter starts routing a message, once the gate is open.
func (g *RouteGate) enter() {
	g.mu.Lock()
	g.waitOpen()
	g.routing++
	g.mu.Unlock()
}

// leave ends routing a message.
func (g *RouteGate) leave() {
	g.mu.Lock()
	g.routing--
	if g.routing == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// shutAndWait shuts the gate, once it is open, and waits up to wait for the
// messages routing to finish; it reports whether they did.
func (g *RouteGate) shutAndWait(wait time.Duration) bool {
	g.mu.Lock()
	g.waitOpen()
	g.shut = make(chan struct{})
	if g.routing == 0 {
		g.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		g.mu.Lock()
		if g.idle == idle {
			g.idle = nil
		}
		g.mu.Unlock()
		return false
	}
}

// open opens the gate again.
func (g *RouteGate) open() {
	g.mu.Lock()
	if g.shut != nil {
		close(g.shut)
		g.shut = nil
	}
	g.mu.Unlock()
}

// NewRouteGate returns an open gate for a broker with capabilities caps.
func NewRouteGate(caps *mqtt.Capabilities) *RouteGate { return &RouteGate{caps: caps} }

// ID names the hook.
func (g *RouteGate) ID() string { return "mochifix-route-gate" }

// Provides says which events the hook handles.
func (g *RouteGate) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketProcessed
}

// routes reports whether pk passes the gate: a QoS 1 or 2 PUBLISH.
func (g *RouteGate) routes(pk *packets.Packet) bool {
	return pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos > 0 && handled(pk, g.caps.TopicAliasMaximum)
}

// OnPacketRead has a QoS 1 or 2 PUBLISH enter the gate before mochi
// routes it.
func (g *RouteGate) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if g.routes(&pk) {
		g.enter()
	}
	return pk, nil
}

// OnPacketProcessed has it leave.
func (g *RouteGate) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if g.routes(&pk) {
		g.leave()
	}
}

package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// packetLocks holds, while mochi-mqtt v2.7.9 handles a packet, the locks
// that keep that handling from racing other work in mochi:
//
//   - retained: setting a retained message writes the topic's node in the
//     topic index, while a SUBSCRIBE looking for retained messages reads
//     that node unlocked (a data race). A PUBLISH that retains is handled
//     alone; SUBSCRIBEs alongside each other.
//   - routes: a QoS 1 or 2 PUBLISH is routed to its subscribers through
//     the session guard's routing gate, which a session takeover shuts
//     from before mochi copies the old session until the new one is the
//     client's (see sessionGuard). No message is put into a session that
//     is being copied, where it would be lost or, moved by hand, delivered
//     twice.
//
// The locks are taken when a packet is read and released once it is
// processed. mochi skips the second hook for a packet that fails
// validation, so packetLocks validates first and leaves those alone; it is
// added after every other hook, so none can drop a packet it locked for.
type packetLocks struct {
	mqtt.HookBase
	aliasMax uint16     // the broker's topic alias maximum, for validation
	routes   *routeGate // the session guard's routing gate
	retained sync.RWMutex
}

func (g *packetLocks) ID() string { return "packet-locks" }

func (g *packetLocks) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketProcessed
}

// What a packet holds while mochi handles it.
const (
	holdRetainedAlone = 1 << iota
	holdRetainedShared
	holdRoutes
)

// holds reports which locks pk holds, and whether it passes the routing
// gate, while mochi handles it.
func (g *packetLocks) holds(pk *packets.Packet) int {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		if pk.PublishValidate(g.aliasMax) != packets.CodeSuccess {
			return 0
		}
		h := 0
		if pk.FixedHeader.Retain {
			h |= holdRetainedAlone
		}
		if pk.FixedHeader.Qos > 0 {
			h |= holdRoutes
		}
		return h
	case packets.Subscribe:
		if pk.SubscribeValidate() == packets.CodeSuccess {
			return holdRetainedShared
		}
	}
	return 0
}

// OnPacketRead takes the locks a packet needs before mochi handles it,
// and has it pass the routing gate.
func (g *packetLocks) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h := g.holds(&pk)
	if h&holdRetainedAlone != 0 {
		g.retained.Lock()
	}
	if h&holdRetainedShared != 0 {
		g.retained.RLock()
	}
	if h&holdRoutes != 0 {
		g.routes.enter()
	}
	return pk, nil
}

// OnPacketProcessed releases them.
func (g *packetLocks) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	h := g.holds(&pk)
	if h&holdRoutes != 0 {
		g.routes.leave()
	}
	if h&holdRetainedShared != 0 {
		g.retained.RUnlock()
	}
	if h&holdRetainedAlone != 0 {
		g.retained.Unlock()
	}
}

package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// retainGuard keeps mochi-mqtt v2.7.9 free of a data race: setting a
// retained message writes the topic's node in the topic index, while a
// SUBSCRIBE looking for retained messages reads that node unlocked. A
// PUBLISH that retains is handled alone; SUBSCRIBEs alongside each other.
//
// It takes its lock when a packet is read and releases it once the packet
// is processed. mochi skips the second hook for a packet that fails
// validation, so the guard validates first and leaves those alone; it is
// added after every other hook, so none can drop a packet it locked for.
type retainGuard struct {
	mqtt.HookBase
	aliasMax uint16 // the broker's topic alias maximum, for validation
	mu       sync.RWMutex
}

func (g *retainGuard) ID() string { return "retain-guard" }

func (g *retainGuard) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketProcessed
}

// guarded reports how pk must hold the lock: exclusive, shared, or not.
func (g *retainGuard) guarded(pk *packets.Packet) (exclusive, shared bool) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return pk.FixedHeader.Retain && pk.PublishValidate(g.aliasMax) == packets.CodeSuccess, false
	case packets.Subscribe:
		return false, pk.SubscribeValidate() == packets.CodeSuccess
	}
	return false, false
}

// OnPacketRead takes the lock a packet needs before mochi handles it.
func (g *retainGuard) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch exclusive, shared := g.guarded(&pk); {
	case exclusive:
		g.mu.Lock()
	case shared:
		g.mu.RLock()
	}
	return pk, nil
}

// OnPacketProcessed releases it.
func (g *retainGuard) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	switch exclusive, shared := g.guarded(&pk); {
	case exclusive:
		g.mu.Unlock()
	case shared:
		g.mu.RUnlock()
	}
}

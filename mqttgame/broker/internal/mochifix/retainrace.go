package mochifix

// # Retained messages race subscriptions
//
// What is wrong: setting a retained message writes the topic's node in
// mochi's topic index, while a SUBSCRIBE that looks for retained messages
// reads that node without the index's lock: a data race
// (TopicsIndex.RetainMessage against the scan for retained messages in
// processSubscribe).
//
// Upstream: mochi-mqtt/server#200 ("Concurrency issues when reading and
// writing retain messages"), closed without a fix; v2.7.9 still races.
//
// Repair: RetainLock handles a PUBLISH that retains alone, and SUBSCRIBEs
// alongside each other, from the moment mochi reads the packet until it
// has processed it.

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// RetainLock is a hook that keeps retaining and subscribing apart. It must
// be added after every hook that can drop a packet on reading (see
// handled).
type RetainLock struct {
	mqtt.HookBase
	caps *mqtt.Capabilities // the broker's, for validation
	mu   sync.RWMutex
}

// NewRetainLock returns the hook for a broker with capabilities caps.
func NewRetainLock(caps *mqtt.Capabilities) *RetainLock { return &RetainLock{caps: caps} }

// ID names the hook.
func (h *RetainLock) ID() string { return "mochifix-retain-lock" }

// Provides says which events the hook handles.
func (h *RetainLock) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketProcessed
}

// hold reports whether pk retains (exclusive) or subscribes (shared).
func (h *RetainLock) hold(pk *packets.Packet) (retains, subscribes bool) {
	if !handled(pk, h.caps.TopicAliasMaximum) {
		return false, false
	}
	return pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Retain, pk.FixedHeader.Type == packets.Subscribe
}

// OnPacketRead takes the lock before mochi handles the packet.
func (h *RetainLock) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch retains, subscribes := h.hold(&pk); {
	case retains:
		h.mu.Lock()
	case subscribes:
		h.mu.RLock()
	}
	return pk, nil
}

// OnPacketProcessed releases it.
func (h *RetainLock) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	switch retains, subscribes := h.hold(&pk); {
	case retains:
		h.mu.Unlock()
	case subscribes:
		h.mu.RUnlock()
	}
}

package mochifix

// # CONNACK leaves out the broker's limits
//
// What is wrong: mochi's CONNACK to an MQTT v5 client says neither the
// broker's maximum packet size nor its topic alias maximum, nor which
// features (retain, wildcard, subscription identifier and shared
// subscriptions) it lacks. A client that does not know them sends what the
// broker then drops the connection for.
//
// Upstream: mochi-mqtt/server#490 ("Send MaximumPacketSize in CONNACK"),
// open, for the maximum packet size; none for the others.
//
// Repair: AnnounceLimits adds them to every successful v5 CONNACK.

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// AnnounceLimits is a hook that puts the broker's limits into CONNACK.
type AnnounceLimits struct {
	mqtt.HookBase
	caps *mqtt.Capabilities
}

// NewAnnounceLimits returns the hook for a broker with capabilities caps,
// read as each CONNACK is sent.
func NewAnnounceLimits(caps *mqtt.Capabilities) *AnnounceLimits {
	return &AnnounceLimits{caps: caps}
}

// ID names the hook.
func (h *AnnounceLimits) ID() string { return "mochifix-announce-limits" }

// Provides says which events the hook handles.
func (h *AnnounceLimits) Provides(b byte) bool { return b == mqtt.OnPacketEncode }

// OnPacketEncode adds the limits to a successful v5 CONNACK.
func (h *AnnounceLimits) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode >= 0x80 || cl.Properties.ProtocolVersion < 5 {
		return pk
	}
	c := h.caps
	p := &pk.Properties
	if c.MaximumPacketSize > 0 {
		p.MaximumPacketSize = c.MaximumPacketSize
	}
	p.TopicAliasMaximum = c.TopicAliasMaximum
	if c.RetainAvailable == 0 {
		p.RetainAvailable, p.RetainAvailableFlag = 0, true
	}
	if c.WildcardSubAvailable == 0 {
		p.WildcardSubAvailable, p.WildcardSubAvailableFlag = 0, true
	}
	if c.SubIDAvailable == 0 {
		p.SubIDAvailable, p.SubIDAvailableFlag = 0, true
	}
	if c.SharedSubAvailable == 0 {
		p.SharedSubAvailable, p.SharedSubAvailableFlag = 0, true
	}
	return pk
}

//go:build !js

package mochifix

// # The bolt store keeps a confirmed QoS 2 message as unconfirmed
//
// What is wrong: when a client confirms a QoS 2 message with PUBREC, mochi
// replaces the message by its PUBREL in the session in memory only; the
// store keeps the PUBLISH. After a restart mochi sends the message again,
// and a client that had completed it gets it twice.
//
// Upstream: no issue or pull request found. The closest is
// mochi-mqtt/server#427 ("Fix QoS 1 message delivery after server
// restart"), about restoring in-flight messages.
//
// Repair: OnPacketProcessed saves the PUBREL once mochi has put it in the
// session.

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// OnPacketProcessed saves the PUBREL that replaced a QoS 2 message the
// client confirmed.
func (s *Store) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if !s.sessions || err != nil || pk.FixedHeader.Type != packets.Pubrec || pk.ReasonCode >= 0x80 {
		return
	}
	if rel, ok := cl.State.Inflight.Get(pk.PacketID); ok && rel.FixedHeader.Type == packets.Pubrel {
		s.OnQosPublish(cl, rel, rel.Created, 0)
	}
}

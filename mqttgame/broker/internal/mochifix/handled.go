package mochifix

import "github.com/mochi-mqtt/server/v2/packets"

// handled reports whether mochi will process pk to the end, and so call
// OnPacketProcessed for it: mochi skips that hook for a PUBLISH or a
// SUBSCRIBE that fails validation. A hook that locks in OnPacketRead and
// unlocks in OnPacketProcessed locks only for packets handled, and must be
// added after every other hook, so that none can drop a packet it locked
// for.
func handled(pk *packets.Packet, aliasMax uint16) bool {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return pk.PublishValidate(aliasMax) == packets.CodeSuccess
	case packets.Subscribe:
		return pk.SubscribeValidate() == packets.CodeSuccess
	}
	return false
}

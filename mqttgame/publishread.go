package mqttgame

import (
	"bytes"
	"fmt"
	"io"

	"github.com/eclipse/paho.golang/packets"
	mochi "github.com/mochi-mqtt/server/v2/packets"
)

// The connection reads PUBLISH packets itself and hands each to the
// client on the reading goroutine; paho reads every other packet.
//
// Two costs of paho v0.23.0 are left out this way:
//
//   - paho's packets.ReadPacket reads each packet through io.CopyN into
//     a bytes.Buffer grown for it, and its decoder reads the topic the same
//     way and the payload with io.ReadAll, each growing a fresh buffer of
//     at least 512 bytes: 22 allocations and 4.5 KiB for a QoS 0 message
//     of 64 bytes (eclipse-paho/paho.golang#320; the fix, #322, is merged
//     but in no release yet). In WebAssembly, where allocation and
//     clearing memory cost more, its decoder alone took a fifth of the
//     client's time. Here the body is copied once, out of the read buffer,
//     into memory of the message's own, and decoded in place by mochi's
//     MQTT v5 codec (the embedded broker's): the topic, the properties and
//     the payload are slices of that copy. TestPahoReadPacketCost measures
//     both readings, and fails once a paho release no longer has the
//     difference: this file can then hand PUBLISH packets back to paho,
//     unless the hand-over below still costs more than it gives.
//   - paho hands each received PUBLISH to a router goroutine, which
//     converts it to a paho.Publish and calls the client's handler: a
//     goroutine switch and about 5 allocations per message. Here the
//     message goes to the inbox on the goroutine that read it, in the
//     order the broker sent it, whatever its QoS.
//
// What is handed on is paho's packets.Publish, so that the rest of the
// client, and paho's session, see what paho would have made. For QoS 1
// and 2 messages paho's session still does what it does when paho reads
// them (sessionState.received): it records them, spots a QoS 2 message
// sent again, and sends the acknowledgements.

// publishReader decodes the PUBLISH packets a packetConn reads and hands
// them to the client.
type publishReader struct {
	decoded mochi.Packet // the packet being decoded
	// The QoS 0 message being handed on, and its optional properties.
	pub    packets.Publish
	props  packets.Properties
	format byte
	expiry uint32
	subID  int
	alias  uint16
	take   func(*packets.Publish)
}

// newPublishReader returns a reader that hands each message to take. A
// QoS 0 message is only lent to take: the reader decodes the next into
// the same packets.Publish, but the slices and strings it holds are the
// message's own.
func newPublishReader(take func(*packets.Publish)) *publishReader {
	return &publishReader{take: take}
}

// read decodes pkt, one whole PUBLISH packet with its fixed header of
// headerSize bytes, and hands it on. An error ends the connection.
func (r *publishReader) read(pkt []byte, headerSize int) error {
	d := &r.decoded
	*d = mochi.Packet{ProtocolVersion: 5}
	if err := d.FixedHeader.Decode(pkt[0]); err != nil {
		return fmt.Errorf("%w: a PUBLISH that cannot be decoded: %w", ErrMalformedPacket, err)
	}
	if err := d.PublishDecode(bytes.Clone(pkt[headerSize:])); err != nil {
		return fmt.Errorf("%w: a PUBLISH that cannot be decoded: %w", ErrMalformedPacket, err)
	}
	p, pp := &r.pub, &r.props
	format, expiry, subID, alias := &r.format, &r.expiry, &r.subID, &r.alias
	if d.FixedHeader.Qos > 0 {
		// paho's session keeps the packet of a message whose
		// acknowledgement waits for the game.
		p, pp = new(packets.Publish), new(packets.Properties)
		format, expiry, subID, alias = new(byte), new(uint32), new(int), new(uint16)
	}
	dp := &d.Properties
	*pp = packets.Properties{ContentType: dp.ContentType, ResponseTopic: dp.ResponseTopic, CorrelationData: dp.CorrelationData}
	if dp.PayloadFormatFlag {
		*format = dp.PayloadFormat
		pp.PayloadFormat = format
	}
	if dp.MessageExpiryInterval > 0 {
		*expiry = dp.MessageExpiryInterval
		pp.MessageExpiry = expiry
	}
	if len(dp.SubscriptionIdentifier) > 0 {
		*subID = dp.SubscriptionIdentifier[0]
		pp.SubscriptionIdentifier = subID
	}
	if dp.TopicAliasFlag {
		*alias = dp.TopicAlias
		pp.TopicAlias = alias
	}
	if len(dp.User) > 0 {
		pp.User = make([]packets.User, len(dp.User))
		for i, u := range dp.User {
			pp.User[i] = packets.User{Key: u.Key, Value: u.Val}
		}
	}
	fh := &d.FixedHeader
	*p = packets.Publish{Topic: d.TopicName, Payload: d.Payload, Properties: pp, PacketID: d.PacketID,
		QoS: fh.Qos, Duplicate: fh.Dup, Retain: fh.Retain}
	r.take(p)
	return nil
}

// readPublish reads the PUBLISH packet nextPacket found, of size bytes,
// headerSize of them its fixed header, and hands it to c.publishes.
func (c *packetConn) readPublish(size, headerSize int) error {
	pkt, peeked := c.whole, false
	switch {
	case pkt != nil:
	case size <= c.r.Size():
		var err error
		if pkt, err = c.r.Peek(size); err != nil {
			return err
		}
		peeked = true
	default:
		pkt = make([]byte, size)
		if _, err := io.ReadFull(c.r, pkt); err != nil {
			return err
		}
	}
	err := c.publishes.read(pkt, headerSize)
	if peeked {
		_, _ = c.r.Discard(size)
	}
	c.remaining, c.whole = 0, nil
	return err
}

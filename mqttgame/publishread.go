package mqttgame

import (
	"bytes"
	"fmt"
	"io"

	"github.com/eclipse/paho.golang/packets"
)

// The connection reads PUBLISH packets itself, with paho's decoder for
// the packet's body (packets.Publish.Unpack), and hands each to the
// client on the reading goroutine; paho reads every other packet.
//
// Two costs of paho v0.23.0 are left out this way:
//
//   - paho's packets.ReadPacket reads each packet through io.CopyN into
//     a bytes.Buffer grown for it, after reading the length through
//     another: 22 allocations and 4.5 KiB for a QoS 0 message of 64
//     bytes, where decoding the body from a buffer kept for the
//     connection, straight out of the read buffer, takes 10
//     (eclipse-paho/paho.golang#320; the fix, #322, is merged but in no
//     release yet). TestPahoReadPacketCost measures both, and fails once
//     a paho release no longer has the difference: this file can then
//     hand PUBLISH packets back to paho, unless the hand-over below still
//     costs more than it gives.
//   - paho hands each received PUBLISH to a router goroutine, which
//     converts it to a paho.Publish and calls the client's handler: a
//     goroutine switch and about 5 allocations per message. Here the
//     message goes to the inbox on the goroutine that read it, in the
//     order the broker sent it, whatever its QoS.
//
// For QoS 1 and 2 messages paho's session still does what it does when
// paho reads them (sessionState.received): it records them, spots a QoS
// 2 message sent again, and sends the acknowledgements.

// publishReader decodes the PUBLISH packets a packetConn reads and hands
// them to the client.
type publishReader struct {
	body  bytes.Buffer       // the body of the packet being decoded
	pub   packets.Publish    // the QoS 0 message being decoded
	props packets.Properties // its properties
	take  func(*packets.Publish) error
}

// newPublishReader returns a reader that hands each message to take. A
// QoS 0 message is only lent to take: the reader decodes the next into
// the same packets.Publish, but every field it holds is a fresh copy.
func newPublishReader(take func(*packets.Publish) error) *publishReader {
	return &publishReader{take: take}
}

// read decodes pkt, one whole PUBLISH packet with its fixed header of
// headerSize bytes, and hands it on. An error ends the connection.
func (r *publishReader) read(pkt []byte, headerSize int) error {
	flags := pkt[0] & 0x0F
	qos := flags >> 1 & 3
	var p *packets.Publish
	if qos == 0 {
		r.pub, r.props = packets.Publish{Properties: &r.props}, packets.Properties{}
		p = &r.pub
	} else {
		// paho's session keeps the packet of a message whose
		// acknowledgement waits for the game.
		p = &packets.Publish{Properties: &packets.Properties{}}
	}
	p.QoS, p.Duplicate, p.Retain = qos, flags&8 != 0, flags&1 != 0
	r.body.Reset()
	r.body.Write(pkt[headerSize:])
	if err := p.Unpack(&r.body); err != nil {
		return fmt.Errorf("%w: a PUBLISH that cannot be decoded: %w", ErrMalformedPacket, err)
	}
	return r.take(p)
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

package mqttgame

import (
	"bytes"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// protocolCheck holds every packet the broker sends to what MQTT v5
// allows a server to send, before paho reads it. A violation ends the
// connection (with a DISCONNECT saying why, where MQTT v5 asks for one):
// the packet reaches neither paho nor the game, and a message in it is
// never acknowledged, so a broker that keeps the session sends it again.
// paho lets most of these through (a PUBLISH with QoS 3, a topic name
// with wildcards, an alias it never set, Receive Maximum 0), or fails on
// them with an error that names nothing.
//
// One protocolCheck serves one connection; only its reader calls it.
type protocolCheck struct {
	connacked bool     // the broker accepted the connection
	aliasMax  int      // Options.TopicAliases: the broker may use 1..aliasMax
	aliases   []uint64 // the aliases the broker set on this connection, a bit each

	// referred, if set, is told of a CONNACK that sends the client to
	// another server, with its Server Reference ("" if none).
	referred func(code ReasonCode, serverReference string)
}

// newProtocolCheck checks a connection on which the broker may use
// topic aliases 1 to topicAliases; referred may be nil.
func newProtocolCheck(topicAliases int, referred func(code ReasonCode, serverReference string)) *protocolCheck {
	return &protocolCheck{aliasMax: topicAliases, referred: referred}
}

// first checks the first byte of a packet: before CONNACK, anything but a
// CONNACK or an AUTH comes from a server that does not speak MQTT v5.
// peek shows what the server sent, as much as has arrived.
func (p *protocolCheck) first(b byte, peek []byte) error {
	if p.connacked || b == 0x20 || b == 0xF0 || b == 0xE0 { // CONNACK, AUTH, DISCONNECT
		return nil
	}
	return fmt.Errorf("%w: it answered the CONNECT with %s", ErrNotMQTT, showBytes(peek))
}

// needsWhole reports whether check needs the whole packet that starts
// with b, rather than its first byte.
func needsWhole(b byte) bool {
	t := b >> 4
	return t == packetCONNACK || t == packetPUBLISH
}

// MQTT control packet types, as in the first byte's high nibble.
const (
	packetCONNECT     = 1
	packetCONNACK     = 2
	packetPUBLISH     = 3
	packetPUBREL      = 6
	packetSUBSCRIBE   = 8
	packetUNSUBSCRIBE = 10
	packetPINGREQ     = 12
	packetAUTH        = 15
)

var packetNames = [16]string{"reserved packet type 0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL",
	"PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// check inspects one packet: pkt holds it whole if needsWhole, otherwise
// at least its first byte. It returns a *ViolationError or an error
// matching ErrNotMQTT, or nil.
func (p *protocolCheck) check(pkt []byte) error {
	b := pkt[0]
	t, flags := b>>4, b&0x0F
	name := packetNames[t]
	switch {
	case t == 0:
		return violation(name, "", ReasonMalformedPacket)
	case t == packetCONNECT || t == packetSUBSCRIBE || t == packetUNSUBSCRIBE || t == packetPINGREQ:
		return violation(name, "(only clients send it)", ReasonProtocolError)
	case t == packetAUTH:
		// Only a client that sent an Authentication Method may get one.
		return violation(name, "though the client asked for no enhanced authentication", ReasonProtocolError)
	case t == packetPUBREL && flags != 2, t != packetPUBREL && t != packetPUBLISH && flags != 0:
		return violation(name, fmt.Sprintf("with reserved flags 0x%X", flags), ReasonMalformedPacket)
	case !p.connacked && t != packetCONNACK:
		return violation(name, "before CONNACK", ReasonProtocolError)
	case t == packetCONNACK:
		return p.connack(pkt)
	case t == packetPUBLISH:
		return p.publish(pkt)
	}
	return nil
}

func (p *protocolCheck) connack(pkt []byte) error {
	if p.connacked {
		return violation("second CONNACK", "", ReasonProtocolError)
	}
	length, i, _ := remainingLength(pkt)
	body := pkt[i:]
	if length == 2 {
		// MQTT 3.1.1's CONNACK: no properties. A 3.1.1 broker answers a
		// v5 CONNECT so, with return code 1, "unacceptable protocol version".
		if body[1] == 0 || body[1] > 5 {
			return fmt.Errorf("%w: it answered with an MQTT 3.1.1 CONNACK (return code %d)", ErrNotMQTT, body[1])
		}
		return fmt.Errorf("%w: it answered in MQTT 3.1.1: %w", ErrNotMQTT, v3Connack(body[1]))
	}
	if length < 3 {
		return violation("CONNACK", fmt.Sprintf("with %d bytes", length), ReasonMalformedPacket)
	}
	if body[0]&^1 != 0 {
		return violation("CONNACK", fmt.Sprintf("with reserved acknowledge flags 0x%02X", body[0]), ReasonMalformedPacket)
	}
	code := ReasonCode(body[1])
	if code != ReasonSuccess && !code.IsFailure() {
		return violation("CONNACK", fmt.Sprintf("with reason code 0x%02X, which is no CONNACK reason code in MQTT v5", byte(code)), ReasonProtocolError)
	}
	var ref string
	err := walkProperties(body[2:], func(id byte, v []byte) error {
		switch id {
		case propServerReference:
			ref = string(v[2:])
		case propReceiveMaximum:
			if v[0] == 0 && v[1] == 0 {
				return violation("CONNACK", "with Receive Maximum 0", ReasonProtocolError)
			}
		case propMaximumPacketSize:
			if v[0]|v[1]|v[2]|v[3] == 0 {
				return violation("CONNACK", "with Maximum Packet Size 0", ReasonProtocolError)
			}
		case propMaximumQoS:
			if v[0] > 1 {
				return violation("CONNACK", fmt.Sprintf("with Maximum QoS %d", v[0]), ReasonProtocolError)
			}
		}
		return nil
	})
	if err != nil {
		return p.malformed("CONNACK", err)
	}
	if isRedirect(code) && p.referred != nil {
		p.referred(code, ref)
	}
	p.connacked = code == ReasonSuccess
	return nil
}

func (p *protocolCheck) publish(pkt []byte) error {
	b := pkt[0]
	qos := b >> 1 & 3
	if qos == 3 {
		return violation("PUBLISH", "with QoS 3", ReasonMalformedPacket)
	}
	if qos == 0 && b&0x08 != 0 {
		return violation("PUBLISH", "with QoS 0 and the DUP flag", ReasonMalformedPacket)
	}
	_, i, _ := remainingLength(pkt)
	body := pkt[i:]
	if len(body) < 2 {
		return violation("PUBLISH", "with no topic name", ReasonMalformedPacket)
	}
	n := int(body[0])<<8 | int(body[1])
	if 2+n > len(body) {
		return violation("PUBLISH", "with a topic name longer than the packet", ReasonMalformedPacket)
	}
	topic := body[2 : 2+n]
	body = body[2+n:]
	switch {
	case !utf8.Valid(topic):
		return violation("PUBLISH", "with invalid UTF-8 in topic name "+quoteBytes(topic), ReasonMalformedPacket)
	case bytes.IndexByte(topic, 0) >= 0:
		return violation("PUBLISH", "with a NUL character in topic name "+quoteBytes(topic), ReasonMalformedPacket)
	case bytes.ContainsAny(topic, "+#"):
		return violation("PUBLISH", "with invalid topic name "+quoteBytes(topic)+": wildcards", ReasonProtocolError)
	}
	if qos > 0 {
		if len(body) < 2 {
			return violation("PUBLISH", "with no packet identifier", ReasonMalformedPacket)
		}
		if body[0]|body[1] == 0 {
			return violation("PUBLISH", "with packet identifier 0", ReasonProtocolError)
		}
		body = body[2:]
	}
	alias, hasAlias := 0, false
	err := walkProperties(body, func(id byte, v []byte) error {
		if id == propTopicAlias {
			alias, hasAlias = int(v[0])<<8|int(v[1]), true
		}
		return nil
	})
	if err != nil {
		return p.malformed("PUBLISH", err)
	}
	switch {
	case hasAlias && (alias == 0 || alias > p.aliasMax):
		return violation("PUBLISH", fmt.Sprintf("with topic alias %d, outside the 1..%d the client allows", alias, p.aliasMax), ReasonTopicAliasInvalid)
	case hasAlias && n > 0:
		p.setAlias(alias)
	case hasAlias && !p.hasAlias(alias):
		return violation("PUBLISH", fmt.Sprintf("with topic alias %d, which it never set", alias), ReasonProtocolError)
	case !hasAlias && n == 0:
		return violation("PUBLISH", "with an empty topic name and no topic alias", ReasonProtocolError)
	}
	return nil
}

func (p *protocolCheck) setAlias(a int) {
	if p.aliases == nil {
		p.aliases = make([]uint64, p.aliasMax/64+1)
	}
	p.aliases[a/64] |= 1 << (a % 64)
}

func (p *protocolCheck) hasAlias(a int) bool {
	return p.aliases != nil && p.aliases[a/64]&(1<<(a%64)) != 0
}

// malformed turns what walkProperties found into a violation of the
// packet.
func (p *protocolCheck) malformed(packet string, err error) error {
	if v, ok := err.(*ViolationError); ok {
		return v
	}
	return violation(packet, "with "+err.Error(), ReasonMalformedPacket)
}

func violation(packet, problem string, code ReasonCode) *ViolationError {
	return &ViolationError{Packet: packet, Problem: problem, Code: code}
}

// Property identifiers the checks read.
const (
	propServerReference   = 0x1C
	propReceiveMaximum    = 0x21
	propTopicAlias        = 0x23
	propMaximumQoS        = 0x24
	propMaximumPacketSize = 0x27
)

// propertySize gives, for each MQTT v5 property identifier, the size of
// its value: a fixed byte count, or one of the variable kinds below; 0
// for identifiers that do not exist.
var propertySize = [0x2B]int8{
	0x01: 1, 0x02: 4, 0x03: propString, 0x08: propString, 0x09: propBinary, 0x0B: propVarInt,
	0x11: 4, 0x12: propString, 0x13: 2, 0x15: propString, 0x16: propBinary, 0x17: 1, 0x18: 4,
	0x19: 1, 0x1A: propString, 0x1C: propString, 0x1F: propString, 0x21: 2, 0x22: 2, 0x23: 2,
	0x24: 1, 0x25: 1, 0x26: propPair, 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}

const (
	propString = -1 // a UTF-8 string: two bytes of length, then the bytes
	propBinary = -2 // the same, any bytes
	propVarInt = -3 // a variable byte integer
	propPair   = -4 // two strings
)

// walkProperties calls f with each property of the property block that
// starts b (its length first), with the property's value bytes; it fails
// on a block that does not parse or an identifier MQTT v5 does not have.
func walkProperties(b []byte, f func(id byte, v []byte) error) error {
	length, i, ok := varInt(b)
	if !ok {
		return fmt.Errorf("a property length that does not parse")
	}
	if i+length > len(b) {
		return fmt.Errorf("properties longer than the packet")
	}
	b = b[i : i+length]
	for len(b) > 0 {
		id := b[0]
		b = b[1:]
		var size int
		switch kind := propertySize[min(int(id), len(propertySize)-1)]; {
		case id >= byte(len(propertySize)) || kind == 0:
			return fmt.Errorf("unknown property 0x%02X", id)
		case kind > 0:
			size = int(kind)
		case kind == propVarInt:
			_, n, ok := varInt(b)
			if !ok {
				return fmt.Errorf("property 0x%02X does not parse", id)
			}
			size = n
		default:
			strings := 1
			if kind == propPair {
				strings = 2
			}
			for range strings {
				if len(b) < size+2 {
					return fmt.Errorf("property 0x%02X longer than the packet", id)
				}
				n := 2 + (int(b[size])<<8 | int(b[size+1]))
				if kind != propBinary && size+n <= len(b) && !utf8.Valid(b[size+2:size+n]) {
					return fmt.Errorf("invalid UTF-8 in property 0x%02X", id)
				}
				size += n
			}
		}
		if size > len(b) {
			return fmt.Errorf("property 0x%02X longer than the packet", id)
		}
		if err := f(id, b[:size]); err != nil {
			return err
		}
		b = b[size:]
	}
	return nil
}

// varInt decodes a variable byte integer at the start of b and returns it
// with its size in bytes; ok is false if b ends first or it is longer
// than 4 bytes.
func varInt(b []byte) (v, size int, ok bool) {
	mult := 1
	for i := 0; i < 4 && i < len(b); i++ {
		v += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return v, i + 1, true
		}
		mult *= 128
	}
	return 0, 0, false
}

// quoteBytes quotes a topic from the wire for an error message: at most
// 64 bytes of it, invalid UTF-8 and control characters escaped.
func quoteBytes(b []byte) string {
	if len(b) > 64 {
		return strconv.Quote(string(b[:64])) + "…"
	}
	return strconv.Quote(string(b))
}

// showBytes shows the first bytes a server sent: as text when they read
// as text, in hexadecimal too.
func showBytes(b []byte) string {
	if len(b) > 16 {
		b = b[:16]
	}
	return fmt.Sprintf("%s (% x)", quoteBytes(b), b)
}

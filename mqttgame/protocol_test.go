//go:build !js

package mqttgame_test

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// fakeBroker is a broker written for one test: it reads each CONNECT,
// lets answer write what it will (hand-built bytes) and then records
// every packet the client sends on that connection, until the client
// closes it. It only exists to misbehave.
type fakeBroker struct {
	url  string
	sent chan []*packets.ControlPacket // what the client sent on each connection, after CONNECT
}

func startFakeBroker(t *testing.T, answer func(c net.Conn)) *fakeBroker {
	t.Helper()
	fb := &fakeBroker{sent: make(chan []*packets.ControlPacket, 100)}
	fb.url = "mqtt://" + rawBroker(t, func(c net.Conn) {
		if cp, err := packets.ReadPacket(c); err != nil || cp.Type != packets.CONNECT {
			return
		}
		answer(c)
		c.SetReadDeadline(time.Now().Add(waitFor))
		var got []*packets.ControlPacket
		for {
			cp, err := packets.ReadPacket(c)
			if err != nil {
				break
			}
			got = append(got, cp)
		}
		select {
		case fb.sent <- got:
		default:
		}
	})
	return fb
}

// lastSent returns what the client sent on the next connection to end.
func (fb *fakeBroker) lastSent(t *testing.T) []*packets.ControlPacket {
	t.Helper()
	select {
	case got := <-fb.sent:
		return got
	case <-time.After(waitFor):
		t.Fatal("the client did not close the connection")
		return nil
	}
}

// disconnectCode returns the reason code of the DISCONNECT among got, or
// -1 if there is none.
func disconnectCode(got []*packets.ControlPacket) int {
	for _, cp := range got {
		if d, ok := cp.Content.(*packets.Disconnect); ok {
			return int(d.ReasonCode)
		}
	}
	return -1
}

// Hand-built packets.
var (
	connackOK       = []byte{0x20, 0x03, 0x00, 0x00, 0x00}
	connackNoShared = []byte{0x20, 0x05, 0x00, 0x00, 0x02, 0x2A, 0x00}
)

// publishBytes builds a PUBLISH with any first byte, topic bytes and
// properties, valid or not.
func publishBytes(first byte, topic string, packetID uint16, props []byte, payload string) []byte {
	var body []byte
	body = append(body, byte(len(topic)>>8), byte(len(topic)))
	body = append(body, topic...)
	if first>>1&3 != 0 {
		body = append(body, byte(packetID>>8), byte(packetID))
	}
	body = append(body, byte(len(props)))
	body = append(body, props...)
	body = append(body, payload...)
	return append([]byte{first, byte(len(body))}, body...) // short packets only: one-byte length
}

func alias(n uint16) []byte { return []byte{0x23, byte(n >> 8), byte(n)} }

// TestBrokerProtocolViolations: a broker that breaks MQTT v5 after
// accepting the connection gets a DISCONNECT with the reason code MQTT v5
// prescribes, the game gets a typed error naming the violation, and
// nothing malformed is shown or acknowledged. A valid QoS 1 message
// through the same harness is shown and acknowledged.
func TestBrokerProtocolViolations(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name    string
		packet  []byte
		code    mqttgame.ReasonCode // in the client's DISCONNECT; ReasonSuccess: a valid packet
		problem string              // in the error
	}{
		{"valid", publishBytes(0x32, "a/b", 1, nil, "hi"), mqttgame.ReasonSuccess, ""},
		{"invalid UTF-8", publishBytes(0x32, "a/\xff", 1, nil, "hi"), mqttgame.ReasonMalformedPacket, `invalid UTF-8 in topic name "a/\xff"`},
		{"NUL", publishBytes(0x30, "a\x00b", 0, nil, "hi"), mqttgame.ReasonMalformedPacket, `NUL character in topic name "a\x00b"`},
		{"plus", publishBytes(0x32, "a/+", 1, nil, "hi"), mqttgame.ReasonProtocolError, `invalid topic name "a/+"`},
		{"hash", publishBytes(0x30, "a/#", 0, nil, "hi"), mqttgame.ReasonProtocolError, `invalid topic name "a/#"`},
		{"empty topic, no alias", publishBytes(0x32, "", 1, nil, "hi"), mqttgame.ReasonProtocolError, "empty topic name and no topic alias"},
		{"QoS 3", publishBytes(0x36, "a/b", 1, nil, "hi"), mqttgame.ReasonMalformedPacket, "QoS 3"},
		{"unknown alias", publishBytes(0x32, "", 1, alias(2), "hi"), mqttgame.ReasonProtocolError, "topic alias 2, which it never set"},
		{"alias over the maximum", publishBytes(0x32, "a/b", 1, alias(9), "hi"), mqttgame.ReasonTopicAliasInvalid, "topic alias 9, outside the 1..4"},
		{"alias 0", publishBytes(0x30, "a/b", 0, alias(0), "hi"), mqttgame.ReasonTopicAliasInvalid, "topic alias 0"},
		{"second CONNACK", connackOK, mqttgame.ReasonProtocolError, "second CONNACK"},
		{"AUTH", []byte{0xF0, 0x02, 0x18, 0x00}, mqttgame.ReasonProtocolError, "AUTH"},
		{"unknown property", publishBytes(0x32, "a/b", 1, []byte{0x7F, 0}, "hi"), mqttgame.ReasonMalformedPacket, "unknown property 0x7F"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := startFakeBroker(t, func(c net.Conn) {
				c.Write(connackOK)
				c.Write(tc.packet)
			})
			c := newClient(t, fb.url, func(o *mqttgame.Options) {
				o.TopicAliases = 4
				o.ReconnectDelay = time.Hour
			})
			c.Connect()
			if tc.code == mqttgame.ReasonSuccess {
				tickUntil(t, "the message", func() bool { return c.Stats().Shown == 1 }, c)
				c.Close()
				got := fb.lastSent(t)
				if len(got) == 0 || got[0].Type != packets.PUBACK {
					t.Fatalf("the client sent %v, want a PUBACK first", got)
				}
				return
			}
			tickUntil(t, "the connection to end", func() bool { return errors.Is(c.Err(), mqttgame.ErrProtocolViolation) }, c)
			got := fb.lastSent(t)
			if code := disconnectCode(got); code != int(tc.code) {
				t.Errorf("the client's DISCONNECT carried %d, want %v", code, tc.code)
			}
			for _, cp := range got {
				if cp.Type == packets.PUBACK || cp.Type == packets.PUBREC {
					t.Errorf("the client acknowledged the packet: %v", cp)
				}
			}
			err := c.Err()
			t.Logf("Err() = %v", err)
			var ve *mqttgame.ViolationError
			if !errors.As(err, &ve) || ve.Code != tc.code || !errors.Is(err, tc.code) || !errors.Is(err, mqttgame.ErrConnectionLost) {
				t.Errorf("Err() = %v, want a lost connection for a *ViolationError with code %v", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.problem) {
				t.Errorf("Err() = %q, want it to name %q", err, tc.problem)
			}
			if errors.Is(err, mqttgame.ErrMalformedPacket) != (tc.code == mqttgame.ReasonMalformedPacket) {
				t.Errorf("Err() = %v: matches ErrMalformedPacket: %v", err, errors.Is(err, mqttgame.ErrMalformedPacket))
			}
			update(c)
			if s := c.Stats(); s.Received != 0 || c.OnMessage("#") || c.LastMessage("#") != "" {
				t.Errorf("the game was shown a message: %+v", s)
			}
		})
	}
}

// TestBrokerAnswersConnect: a server that answers the CONNECT with
// something other than an MQTT v5 CONNACK that accepts or refuses the
// client gets an error of its own, never EventConnected.
func TestBrokerAnswersConnect(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name       string
		answer     []byte
		want       []error
		notWant    []error
		disconnect int // the client's DISCONNECT reason code, -1 for none
		text       string
	}{
		{"HTTP server", []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
			[]error{mqttgame.ErrNotMQTT}, []error{mqttgame.ErrUnreachable}, -1, `it answered the CONNECT with "HTTP/1.1 400 Bad`},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
			[]error{mqttgame.ErrNotMQTT}, []error{mqttgame.ErrUnreachable}, -1, "not an MQTT v5 broker"},
		{"MQTT 3.1.1 broker", []byte{0x20, 0x02, 0x00, 0x01},
			[]error{mqttgame.ErrNotMQTT, mqttgame.ReasonUnsupportedProtocolVersion}, []error{mqttgame.ErrUnreachable}, -1, "MQTT 3.1.1"},
		{"closes without a word", nil,
			[]error{mqttgame.ErrNoConnack, mqttgame.ErrUnreachable}, []error{mqttgame.ErrNotMQTT}, -1, "without answering CONNECT"},
		{"CONNACK reason 0x01", []byte{0x20, 0x03, 0x00, 0x01, 0x00},
			[]error{mqttgame.ErrProtocolViolation, mqttgame.ReasonProtocolError}, []error{mqttgame.ErrUnreachable}, 0x82, "reason code 0x01"},
		{"Receive Maximum 0", []byte{0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00},
			[]error{mqttgame.ErrProtocolViolation, mqttgame.ReasonProtocolError}, []error{mqttgame.ErrUnreachable}, 0x82, "Receive Maximum 0"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := startFakeBroker(t, func(c net.Conn) {
				if tc.answer == nil {
					c.Close()
					return
				}
				c.Write(tc.answer)
			})
			c := newClient(t, fb.url, func(o *mqttgame.Options) { o.ReconnectDelay = time.Hour })
			c.Connect()
			tickUntil(t, "the attempt to fail", func() bool { return sawEvent(c, mqttgame.EventConnectFailed, 0) }, c)
			if sawEvent(c, mqttgame.EventConnected, 0) {
				t.Errorf("EventConnected")
			}
			err := c.Err()
			t.Logf("Err() = %v", err)
			var ce *mqttgame.ConnectError
			if !errors.As(err, &ce) {
				t.Fatalf("Err() = %v, want a *ConnectError", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Err() = %v, does not match %v", err, w)
				}
			}
			for _, w := range tc.notWant {
				if errors.Is(err, w) {
					t.Errorf("Err() = %v, matches %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Err() = %q, want it to say %q", err, tc.text)
			}
			if tc.answer != nil {
				if code := disconnectCode(fb.lastSent(t)); code != tc.disconnect {
					t.Errorf("the client's DISCONNECT carried %d, want %d", code, tc.disconnect)
				}
			}
		})
	}
}

// TestSharedSubscriptionsUnavailable: with a broker that announces no
// shared subscriptions, a shared subscription made before connecting fails
// at connection with ReasonSharedSubNotSupported, another in the same batch is
// still sent, and one made while connected is refused at once.
func TestSharedSubscriptionsUnavailable(t *testing.T) {
	t.Parallel()
	fb := startFakeBroker(t, func(c net.Conn) {
		c.Write(connackNoShared)
		cp, err := packets.ReadPacket(c)
		if err != nil {
			return
		}
		if s, ok := cp.Content.(*packets.Subscribe); ok {
			sa := &packets.Suback{PacketID: s.PacketID, Reasons: make([]byte, len(s.Subscriptions)), Properties: &packets.Properties{}}
			var b bytes.Buffer
			sa.WriteTo(&b)
			c.Write(b.Bytes())
		}
	})
	c := newClient(t, fb.url, nil)
	if err := c.Subscribe("$share/g/scores", mqttgame.AtLeastOnce); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe("scores", mqttgame.AtLeastOnce); err != nil {
		t.Fatal(err)
	}
	c.Connect()
	tickUntil(t, "the plain subscription", func() bool { return c.IsSubscribed("scores") }, c)
	var failed *mqttgame.Event
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventSubscribeFailed && e.Topic == "$share/g/scores" {
			failed = &e
		}
	}
	if failed == nil || !errors.Is(failed.Err, mqttgame.ReasonSharedSubNotSupported) {
		t.Fatalf("shared subscription: %v, want EventSubscribeFailed matching ReasonSharedSubNotSupported", failed)
	}
	err := c.Subscribe("$share/g/chat", mqttgame.AtLeastOnce)
	if !errors.Is(err, mqttgame.ReasonSharedSubNotSupported) {
		t.Fatalf("Subscribe while connected = %v, want ReasonSharedSubNotSupported", err)
	}
	t.Logf("at connection: %v; while connected: %v", failed.Err, err)
}

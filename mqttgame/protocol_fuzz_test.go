//go:build !js

package mqttgame

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// FuzzProtocolCheck feeds arbitrary bytes, after a valid CONNACK or in
// its place, to the connection wrapper with its MQTT v5 checks and its
// reading of PUBLISH packets, as if a broker sent them: nothing panics,
// no PUBLISH reaches paho, and every PUBLISH handed on has a QoS of 0 to
// 2 and a valid topic name or a known alias.
func FuzzProtocolCheck(f *testing.F) {
	var ok bytes.Buffer
	(&packets.Publish{Topic: "a", QoS: 1, PacketID: 1, Payload: []byte("hi"), Properties: &packets.Properties{}}).WriteTo(&ok)
	f.Add(true, ok.Bytes())
	f.Add(true, []byte{0x36, 0x06, 0x00, 0x01, 'a', 0x00, 0x01, 0x00})
	f.Add(true, []byte{0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'x'})
	f.Add(true, []byte{0x30, 0x0a, 0x00, 0x01, 'a', 0x05, 0x26, 0x00, 0x01, 'k', 0x00, 0x00})
	f.Add(false, []byte{0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00})
	f.Add(false, []byte{0x20, 0x02, 0x00, 0x01})
	f.Add(false, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
	f.Fuzz(func(t *testing.T, connacked bool, data []byte) {
		a, b := net.Pipe()
		aliases := map[uint16]bool{}
		publishes := newPublishReader(func(p *packets.Publish) {
			if p.QoS > 2 {
				t.Fatalf("a PUBLISH with QoS %d got through", p.QoS)
			}
			alias := p.Properties.TopicAlias
			switch {
			case p.Topic != "":
				if err := ValidateTopic(p.Topic); err != nil && !bytes.HasPrefix([]byte(p.Topic), []byte("$")) {
					t.Fatalf("topic %q got through: %v", p.Topic, err)
				}
				if alias != nil {
					aliases[*alias] = true
				}
			case alias == nil || !aliases[*alias]:
				t.Fatalf("a PUBLISH with no topic and alias %v got through", alias)
			}
		})
		pc := newPacketConn(a, 1024, nil, nil, nil, publishes)
		pc.proto = newProtocolCheck(4, nil)
		go func() {
			if connacked {
				b.Write([]byte{0x20, 0x03, 0x00, 0x00, 0x00})
			}
			b.Write(data)
			b.Close()
		}()
		go io.Copy(io.Discard, b) // the DISCONNECT a violation sends
		for {
			cp, err := packets.ReadPacket(pc)
			if err != nil {
				break
			}
			if _, isPub := cp.Content.(*packets.Publish); isPub {
				t.Fatal("a PUBLISH reached paho past the connection's own reading")
			}
		}
		pc.Close()
	})
}

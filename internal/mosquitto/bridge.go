package mosquitto

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// Pair is two mosquittos joined by one bridge: A connects to B and
// forwards every topic both ways (topic # both 2), so that a client of
// either sees what a client of the other publishes. Each keeps its own
// sessions, retained messages and wills.
type Pair struct {
	A, B *Broker
}

// bridgeInflight is the QoS 1 and 2 messages each broker keeps in flight,
// on the bridge too. With mosquitto's default of 20, a QoS 2 burst over
// the bridge meets PUBREC 0x97 (quota exceeded), and those messages are
// dropped.
const bridgeInflight = 1000

// StartBridged starts B, then A with a bridge to B, both with opts, and
// returns once the bridge is connected. Close both brokers when done.
func StartBridged(opts *Options) (*Pair, error) {
	if opts == nil {
		opts = new(Options)
	}
	ob := *opts
	ob.Config = append([]string{fmt.Sprintf("max_inflight_messages %d", bridgeInflight)}, opts.Config...)
	b, err := Start(&ob)
	if err != nil {
		return nil, err
	}
	oa := ob
	oa.Config = append(append([]string(nil), ob.Config...),
		"connection bridge-to-b",
		"address "+b.TCPAddr(),
		"topic # both 2",
		"bridge_protocol_version mqttv50",
		"cleansession true",
		"try_private true",
		"notifications false",
		"restart_timeout 1",
		// The bridge's own client ID on B: two pairs may share nothing.
		"remote_clientid bridge-"+b.TCPAddr(),
	)
	a, err := Start(&oa)
	if err != nil {
		b.Close()
		return nil, err
	}
	p := &Pair{A: a, B: b}
	if err := p.WaitBridged(10 * time.Second); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// WaitBridged waits until a message published on A reaches a subscriber
// of B: the bridge is up (after a restart of A, again).
func (p *Pair) WaitBridged(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	sub, err := net.DialTimeout("tcp", p.B.TCPAddr(), limit)
	if err != nil {
		return err
	}
	defer sub.Close()
	topic := "mosquitto-bridge-probe/" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := connect(sub, "probe-sub-"+topic[23:], deadline); err != nil {
		return err
	}
	s := packets.NewControlPacket(packets.SUBSCRIBE)
	s.Content.(*packets.Subscribe).PacketID = 1
	s.Content.(*packets.Subscribe).Subscriptions = []packets.SubOptions{{Topic: topic}}
	if _, err := s.WriteTo(sub); err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() {
		sub.SetReadDeadline(deadline)
		for {
			cp, err := packets.ReadPacket(sub)
			if err != nil {
				got <- err
				return
			}
			if _, ok := cp.Content.(*packets.Publish); ok {
				got <- nil
				return
			}
		}
	}()
	for {
		if err := publishOnce(p.A.TCPAddr(), topic, deadline); err != nil && time.Now().After(deadline) {
			return err
		}
		select {
		case err := <-got:
			if err != nil {
				return fmt.Errorf("mosquitto: the bridge did not carry a message within %v: %w", limit, err)
			}
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// connect sends CONNECT on c and waits for a successful CONNACK.
func connect(c net.Conn, id string, deadline time.Time) error {
	cp := packets.NewControlPacket(packets.CONNECT)
	cc := cp.Content.(*packets.Connect)
	cc.ProtocolName, cc.ProtocolVersion, cc.CleanStart, cc.ClientID = "MQTT", 5, true, id
	if _, err := cp.WriteTo(c); err != nil {
		return err
	}
	c.SetReadDeadline(deadline)
	ack, err := packets.ReadPacket(c)
	if err != nil {
		return err
	}
	if ca, ok := ack.Content.(*packets.Connack); !ok || ca.ReasonCode != 0 {
		return fmt.Errorf("mosquitto: CONNECT refused: %v", ack.Content)
	}
	return nil
}

// publishOnce connects to addr, publishes one QoS 0 message and leaves.
func publishOnce(addr, topic string, deadline time.Time) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := connect(c, "probe-pub-"+topic[23:], deadline); err != nil {
		return err
	}
	pp := packets.NewControlPacket(packets.PUBLISH)
	pp.Content.(*packets.Publish).Topic = topic
	pp.Content.(*packets.Publish).Payload = []byte("probe")
	if _, err := pp.WriteTo(c); err != nil {
		return err
	}
	_, err = packets.NewControlPacket(packets.DISCONNECT).WriteTo(c)
	return err
}

// Close stops both brokers.
func (p *Pair) Close() error {
	p.A.Close()
	p.B.Close()
	return nil
}

// Kill ends the broker at once (SIGKILL), as a crash would: its clients
// get no goodbye, and it publishes no will. Restart starts it again.
func (b *Broker) Kill() { b.stopProcess(true) }

//go:build !js

package mqttgame_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// scriptedBroker is a broker written for one test: it accepts every
// CONNECT and hands every later packet to answer, with the number of the
// connection (from 1), which writes the replies, if any, to w. It counts
// the packets of each type it received.
type scriptedBroker struct {
	mu    sync.Mutex
	conns int
	got   map[byte]int
}

func (b *scriptedBroker) count(typ byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.got[typ]
}

func startScriptedBroker(t *testing.T, answer func(conn int, cp *packets.ControlPacket, w net.Conn)) (*scriptedBroker, string) {
	b := &scriptedBroker{got: map[byte]int{}}
	addr := rawBroker(t, func(c net.Conn) {
		cp, err := packets.ReadPacket(c)
		if err != nil || cp.Type != packets.CONNECT {
			return
		}
		b.mu.Lock()
		b.conns++
		n := b.conns
		b.mu.Unlock()
		ca := packets.NewControlPacket(packets.CONNACK)
		ca.Content.(*packets.Connack).Properties = &packets.Properties{}
		if _, err := ca.WriteTo(c); err != nil {
			return
		}
		for {
			cp, err := packets.ReadPacket(c)
			if err != nil || cp.Type == packets.DISCONNECT {
				return
			}
			b.mu.Lock()
			b.got[cp.Type]++
			b.mu.Unlock()
			answer(n, cp, c)
		}
	})
	return b, "mqtt://" + addr
}

// reply writes a packet of type typ made by fill.
func reply(w net.Conn, typ byte, fill func(*packets.ControlPacket)) {
	cp := packets.NewControlPacket(typ)
	fill(cp)
	_, _ = cp.WriteTo(w)
}

const ackTimeout = 200 * time.Millisecond

func ackClient(t *testing.T, url string) *mqttgame.Client {
	return newClient(t, url, func(o *mqttgame.Options) {
		o.AckTimeout = ackTimeout
		o.KeepAlive = -1
		o.ReconnectDelay = 5 * time.Millisecond
	})
}

// outcome ticks c until an event of one of the kinds arrives for topic,
// and returns it.
func outcome(t *testing.T, c *mqttgame.Client, topic string, kinds ...mqttgame.EventKind) mqttgame.Event {
	t.Helper()
	var got mqttgame.Event
	tickUntil(t, "an outcome for "+topic, func() bool {
		for _, e := range eventsOf(c) {
			for _, k := range kinds {
				if e.Kind == k && e.Topic == topic {
					got = e
					return true
				}
			}
		}
		return false
	}, c)
	return got
}

// tickFor ticks c for d: a window in which something must not happen.
func tickFor(c *mqttgame.Client, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for ctx.Err() == nil {
		update(c)
		c.Wait(ctx)
	}
}

// TestSubscribeWithoutSubackEnds: a broker that never answers a
// SUBSCRIBE, or answers it under another packet identifier, makes the
// subscription fail with ErrTimeout after AckTimeout, naming the filter,
// and the client does not send it again.
func TestSubscribeWithoutSubackEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		answer func(cp *packets.ControlPacket, w net.Conn)
	}{
		{"no SUBACK", func(*packets.ControlPacket, net.Conn) {}},
		{"SUBACK with the wrong packet identifier", func(cp *packets.ControlPacket, w net.Conn) {
			if s, ok := cp.Content.(*packets.Subscribe); ok {
				reply(w, packets.SUBACK, func(r *packets.ControlPacket) {
					r.Content.(*packets.Suback).PacketID = s.PacketID + 1
					r.Content.(*packets.Suback).Reasons = []byte{1}
				})
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, url := startScriptedBroker(t, func(_ int, cp *packets.ControlPacket, w net.Conn) { tc.answer(cp, w) })
			c := ackClient(t, url)
			connect(t, c)
			if err := c.Subscribe("game/chat", 1); err != nil {
				t.Fatal(err)
			}
			e := outcome(t, c, "game/chat", mqttgame.EventSubscribed, mqttgame.EventSubscribeFailed)
			if e.Kind != mqttgame.EventSubscribeFailed || !errors.Is(e.Err, mqttgame.ErrTimeout) || !strings.Contains(e.Err.Error(), `"game/chat"`) {
				t.Fatalf("outcome %v, want SubscribeFailed with ErrTimeout naming the filter", e)
			}
			tickFor(c, 3*ackTimeout)
			if n := b.count(packets.SUBSCRIBE); n != 1 || c.IsSubscribed("game/chat") || len(c.Subscriptions()) != 0 {
				t.Fatalf("after the timeout: %d SUBSCRIBE packets, subscribed %v, subscriptions %q; want 1, false, none", n, c.IsSubscribed("game/chat"), c.Subscriptions())
			}
		})
	}
}

// TestUnsubscribeWithoutUnsubackEnds: a broker that never answers an
// UNSUBSCRIBE makes it fail with ErrTimeout after AckTimeout.
func TestUnsubscribeWithoutUnsubackEnds(t *testing.T) {
	t.Parallel()
	b, url := startScriptedBroker(t, func(_ int, cp *packets.ControlPacket, w net.Conn) {
		if s, ok := cp.Content.(*packets.Subscribe); ok {
			reply(w, packets.SUBACK, func(r *packets.ControlPacket) {
				r.Content.(*packets.Suback).PacketID = s.PacketID
				r.Content.(*packets.Suback).Reasons = []byte{0}
			})
		}
	})
	c := ackClient(t, url)
	connect(t, c)
	subscribe(t, c, "game/chat", mqttgame.SubscribeOptions{})
	if err := c.Unsubscribe("game/chat"); err != nil {
		t.Fatal(err)
	}
	e := outcome(t, c, "game/chat", mqttgame.EventUnsubscribed, mqttgame.EventUnsubscribeFailed)
	if e.Kind != mqttgame.EventUnsubscribeFailed || !errors.Is(e.Err, mqttgame.ErrTimeout) || !strings.Contains(e.Err.Error(), "UNSUBACK") {
		t.Fatalf("outcome %v, want UnsubscribeFailed with ErrTimeout", e)
	}
	tickFor(c, 3*ackTimeout)
	if n := b.count(packets.UNSUBSCRIBE); n != 1 {
		t.Fatalf("%d UNSUBSCRIBE packets, want 1", n)
	}
}

// TestPublishWithoutAckEnds: a QoS 1 message the broker does not
// acknowledge within AckTimeout ends the connection (MQTT v5 allows a
// resend only on a new one) and goes again on the next. If the broker
// acknowledges it there, it is delivered; if no connection does, it fails
// with ErrTimeout after three, and the client stops losing connections.
func TestPublishWithoutAckEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		ackOnConn int // 0: never
	}{
		{"acknowledged on the next connection", 2},
		{"never acknowledged", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, url := startScriptedBroker(t, func(conn int, cp *packets.ControlPacket, w net.Conn) {
				if p, ok := cp.Content.(*packets.Publish); ok && conn == tc.ackOnConn {
					reply(w, packets.PUBACK, func(r *packets.ControlPacket) { r.Content.(*packets.Puback).PacketID = p.PacketID })
				}
			})
			c := ackClient(t, url)
			connect(t, c)
			id, err := c.PublishString("game/score", "42", 1, false)
			if err != nil {
				t.Fatal(err)
			}
			var e mqttgame.Event
			tickUntil(t, "an outcome for the message", func() bool {
				for _, x := range eventsOf(c) {
					if x.ID == id && (x.Kind == mqttgame.EventDelivered || x.Kind == mqttgame.EventPublishFailed) {
						e = x
						return true
					}
				}
				return false
			}, c)
			lost := c.Stats().ConnectionsLost
			if tc.ackOnConn != 0 {
				if e.Kind != mqttgame.EventDelivered || b.count(packets.PUBLISH) != tc.ackOnConn || int(lost) != tc.ackOnConn-1 {
					t.Fatalf("outcome %v after %d PUBLISH packets and %d lost connections, want delivered after %d and %d", e, b.count(packets.PUBLISH), lost, tc.ackOnConn, tc.ackOnConn-1)
				}
			} else if e.Kind != mqttgame.EventPublishFailed || !errors.Is(e.Err, mqttgame.ErrTimeout) || b.count(packets.PUBLISH) != 3 {
				t.Fatalf("outcome %v after %d PUBLISH packets, want PublishFailed with ErrTimeout after 3", e, b.count(packets.PUBLISH))
			}
			for _, x := range eventsOf(c) {
				if x.Kind == mqttgame.EventConnectionLost && !errors.Is(x.Err, mqttgame.ErrTimeout) {
					t.Errorf("connection lost with %v, want ErrTimeout", x.Err)
				}
			}
			tickFor(c, 3*ackTimeout)
			if now := c.Stats().ConnectionsLost; now != lost || !c.IsConnected() {
				t.Fatalf("connections lost after the outcome: %d then %d, connected %v", lost, now, c.IsConnected())
			}
		})
	}
}

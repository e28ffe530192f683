//go:build !js

package mochifix

import (
	"testing"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// reusesUnsafely is the repaired store less the identifier reuse repair.
func reusesUnsafely(s *Store) mqtt.Hook { return unsafeReuse{s} }

type unsafeReuse struct{ *Store }

func (h unsafeReuse) OnQosPublish(cl *mqtt.Client, pk mpackets.Packet, sent int64, resends int) {
	h.Store.Hook.OnQosPublish(cl, pk, sent, resends)
}

func (h unsafeReuse) OnQosComplete(cl *mqtt.Client, pk mpackets.Packet) {
	h.Store.Hook.OnQosComplete(cl, pk)
}

func (h unsafeReuse) OnQosDropped(cl *mqtt.Client, pk mpackets.Packet) {
	if !cl.IsTakenOver() {
		h.Store.Hook.OnQosDropped(cl, pk)
	}
}

// completeHold holds the end of a client's first QoS exchange in the
// hooks, before the store's.
type completeHold struct {
	mqtt.HookBase
	id string
	h  *hold
}

func (c *completeHold) ID() string           { return "complete-hold" }
func (c *completeHold) Provides(b byte) bool { return b == mqtt.OnQosComplete }

func (c *completeHold) OnQosComplete(cl *mqtt.Client, pk mpackets.Packet) {
	if cl.ID == c.id {
		c.h.wait()
	}
}

// TestStoreIDReuse: a subscriber acknowledges its message in flight, and
// mochi gives the freed packet identifier to a new message before the
// store has deleted the old one's record (the store's hook is held up
// there). On bare mochi that late delete removes the new message's
// record, and after a restart the new message is not sent again; with the
// repair it is.
func TestStoreIDReuse(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			dir := t.TempDir()
			held := newHold(t)
			h := openBolt(t, dir)
			var store mqtt.Hook = NewStore(h, true)
			if !fixed {
				store = reusesUnsafely(NewStore(h, true))
			}
			s := startServer(t, serverOptions{hooks: func(*mqtt.Server) []mqtt.Hook {
				return []mqtt.Hook{&completeHold{id: "keeper", h: held}, opened{store}}
			}})
			keeper := session{id: "keeper", keep: true}
			sub, _ := dial(t, s.addr, keeper)
			sub.subscribe("s/#", 1)
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("s/old", "m", 1, 1)
			if ack := pub.read(); ack.Type != packets.PUBACK {
				t.Fatalf("publisher: got %v", ack)
			}
			if msg := sub.read(); msg.Type != packets.PUBLISH {
				t.Fatalf("subscriber: got %v", msg)
			}
			// The session comes back on a new connection, whose packet
			// identifiers start again from 1: the message in flight is sent
			// again under its identifier, 1.
			sub.c.Close()
			sub, _ = dial(t, s.addr, keeper)
			old := sub.read()
			if p, ok := old.Content.(*packets.Publish); !ok || p.Topic != "s/old" || p.PacketID != 1 {
				t.Fatalf("resumed session: got %v, want s/old sent again under 1", old)
			}
			sub.ack(old)
			held.holding(t)
			// mochi has freed identifier 1, and not yet deleted the record.
			pub.publish("s/new", "m", 1, 2)
			if ack := pub.read(); ack.Type != packets.PUBACK {
				t.Fatalf("publisher: got %v", ack)
			}
			msg := sub.read()
			p, ok := msg.Content.(*packets.Publish)
			if !ok || p.Topic != "s/new" {
				t.Fatalf("subscriber: got %v, want s/new", msg)
			}
			t.Logf("the new message went out under packet identifier %d", p.PacketID)
			held.let()
			// The subscriber's packets are handled in order: the answer to a
			// ping comes once the acknowledgement is done with.
			sub.send(packets.NewControlPacket(packets.PINGREQ))
			if pong := sub.read(); pong.Type != packets.PINGRESP {
				t.Fatalf("subscriber: got %v, want PINGRESP", pong)
			}
			sub.c.Close()

			s = restart(t, s, dir, fixed, reusesUnsafely)
			sub, _ = dial(t, s.addr, keeper)
			n := sub.resent()
			t.Logf("messages sent again after the restart: %d", n)
			switch {
			case fixed && n != 1:
				t.Errorf("%d messages in flight came after the restart, want the new one", n)
			case !fixed && n != 0:
				gone(t, "storeidreuse.go", "the new message survived the restart")
			}
		})
	}
}

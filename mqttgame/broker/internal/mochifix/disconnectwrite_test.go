package mochifix

import (
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// writeHold holds mochi's writer of a client's outbound queue on a PUBLISH
// to one topic, before it takes the client's lock: messages published
// meanwhile wait in the queue.
type writeHold struct {
	mqtt.HookBase
	topic string
	*hold
}

func (h *writeHold) ID() string           { return "write-hold" }
func (h *writeHold) Provides(b byte) bool { return b == mqtt.OnPacketEncode }

func (h *writeHold) OnPacketEncode(cl *mqtt.Client, pk mpackets.Packet) mpackets.Packet {
	if pk.FixedHeader.Type == mpackets.Publish && pk.TopicName == h.topic {
		h.wait()
	}
	return pk
}

// TestDisconnectWhileMessagesWait: a session taken over while messages wait
// to be written to its old connection ends, on bare mochi, with no
// DISCONNECT; with the repair the old connection is told why it ends.
func TestDisconnectWhileMessagesWait(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			h := &writeHold{topic: "w/held", hold: newHold(t)}
			s := takeoverServer(t, fixed, time.Second, h)
			t.Cleanup(h.let)
			id := session{id: "twice", keep: true}
			old, _ := dial(t, s.addr, id)
			old.subscribe("w/#", 0)
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("w/held", "m", 0, 0)
			h.holding(t)
			for range 3 {
				pub.publish("w/waiting", "m", 0, 0)
			}
			// The publisher's ping is answered once the three are queued.
			pub.send(packets.NewControlPacket(packets.PINGREQ))
			if cp := pub.read(); cp.Type != packets.PINGRESP {
				t.Fatalf("publisher: got %v", cp)
			}

			if _, ca := dial(t, s.addr, id); !ca.SessionPresent {
				t.Fatal("the session was not resumed")
			}
			h.let()
			var reason byte
			for {
				cp, err := old.tryRead(waitFor)
				if err != nil {
					break
				}
				if d, ok := cp.Content.(*packets.Disconnect); ok {
					reason = d.ReasonCode
				}
			}
			switch {
			case fixed && reason != mpackets.ErrSessionTakenOver.Code:
				t.Errorf("the old connection ended with DISCONNECT reason %#x, want session taken over (0x8E)", reason)
			case !fixed && reason != 0:
				gone(t, "disconnectwrite.go", "a DISCONNECT written while messages waited was sent")
			}
		})
	}
}

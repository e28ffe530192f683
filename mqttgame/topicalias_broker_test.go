//go:build !js

package mqttgame_test

import (
	"fmt"
	"sync"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// aliasCounter is a broker hook that counts PUBLISH packets that carry
// only a topic alias, from and to each client.
type aliasCounter struct {
	mqtt.HookBase
	mu       sync.Mutex
	from, to map[string]int
}

func (h *aliasCounter) ID() string { return "alias-counter" }

func (h *aliasCounter) Provides(b byte) bool { return b == mqtt.OnPacketRead || b == mqtt.OnPacketSent }

func (h *aliasCounter) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Publish && pk.TopicName == "" && pk.Properties.TopicAlias > 0 {
		h.mu.Lock()
		h.from[cl.ID]++
		h.mu.Unlock()
	}
	return pk, nil
}

func (h *aliasCounter) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	if pk.FixedHeader.Type == packets.Publish && pk.TopicName == "" && pk.Properties.TopicAlias > 0 {
		h.mu.Lock()
		h.to[cl.ID]++
		h.mu.Unlock()
	}
}

func (h *aliasCounter) counts(id string) (from, to int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.from[id], h.to[id]
}

// TestTopicAliasesEndToEnd: with Options.TopicAliases, repeated QoS 0
// publishes go out as aliases, the broker's aliases in messages to the
// client resolve to the right topics, and both start over after a
// reconnection.
func TestTopicAliasesEndToEnd(t *testing.T) {
	t.Parallel()
	h := &aliasCounter{from: map[string]int{}, to: map[string]int{}}
	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{h} }})
	proxy := newProxy(t, b.Addr().String())
	opts := func(id string) func(*mqttgame.Options) {
		return func(o *mqttgame.Options) {
			o.ClientID = id
			o.TopicAliases = 8
			o.DataLoss = mqttgame.FIFO
		}
	}
	pub := newClient(t, "ws://"+proxy.Addr()+"/mqtt", opts("alias-pub"))
	sub := newClient(t, "ws://"+proxy.Addr()+"/mqtt", opts("alias-sub"))
	connect(t, pub)
	connect(t, sub)
	subscribe(t, sub, "pos/#", mqttgame.SubscribeOptions{QoS: 1})

	round := func(tag string) {
		t.Helper()
		want := map[string][]string{}
		for i := range 4 {
			for _, who := range []string{"pos/alice", "pos/bob"} {
				payload := fmt.Sprintf("%s %s %d", tag, who, i)
				if _, err := pub.PublishString(who, payload, 0, false); err != nil {
					t.Fatal(err)
				}
				want[who] = append(want[who], payload)
			}
		}
		id, _ := pub.PublishString("pos/alice", tag+" qos1", 1, false)
		want["pos/alice"] = append(want["pos/alice"], tag+" qos1")
		got := map[string][]string{}
		tickUntil(t, tag+": every message", func() bool {
			for _, m := range sub.AppendMessages(nil, "#") {
				got[m.Topic] = append(got[m.Topic], string(m.Payload))
			}
			return len(got["pos/alice"]) == 5 && len(got["pos/bob"]) == 4 && sawEvent(pub, mqttgame.EventDelivered, id)
		}, pub, sub)
		for topic, w := range want {
			if fmt.Sprint(got[topic]) != fmt.Sprint(w) {
				t.Fatalf("%s: %s got %q, want %q", tag, topic, got[topic], w)
			}
		}
	}

	round("first")
	from, to := h.counts("alias-pub")
	_, toSub := h.counts("alias-sub")
	if from != 6 || to != 0 {
		t.Fatalf("the publisher sent %d alias-only publishes, want 6 (3 repeats of each of 2 topics)", from)
	}
	if toSub == 0 {
		t.Fatal("the broker sent the subscriber no alias-only publish: the test proves nothing")
	}

	proxy.Reset()
	tickUntil(t, "both back", func() bool {
		return sawEventCount(pub, mqttgame.EventConnected) == 2 && sawEventCount(sub, mqttgame.EventConnected) == 2
	}, pub, sub)
	tickUntil(t, "subscription restored", func() bool { return sub.IsSubscribed("pos/#") }, sub)
	round("second")
	if from2, _ := h.counts("alias-pub"); from2 != 12 {
		t.Fatalf("after reconnecting the publisher sent %d alias-only publishes in all, want 12", from2)
	}
}

func sawEventCount(c *mqttgame.Client, kind mqttgame.EventKind) int {
	n := 0
	for _, e := range eventsOf(c) {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

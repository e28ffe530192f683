package broker_test

import (
	"fmt"
	"testing"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestRetainWhileSubscribing: retained messages set on new topics while
// other clients subscribe and unsubscribe with wildcards (the traffic
// under which mochi-mqtt v2.7.9 raced; see mochifix/retainrace.go).
// Every retained message is then there for a new subscriber.
func TestRetainWhileSubscribing(t *testing.T) {
	t.Parallel()
	const topics = 200
	b := mqtttest.StartBroker(t, nil)
	pub := newClient(t, b.URL(), nil)
	subs := []*mqttgame.Client{newClient(t, b.URL(), nil), newClient(t, b.URL(), nil)}
	all := append([]*mqttgame.Client{pub}, subs...)
	for _, c := range all {
		c.Connect()
	}
	tickUntil(t, "connected", func() bool { return pub.IsConnected() && subs[0].IsConnected() && subs[1].IsConnected() }, all...)
	for i := range topics {
		if _, err := pub.PublishString(fmt.Sprintf("keep/%d/x", i), "v", 1, true); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			for j, s := range subs {
				filter := []string{"keep/+/x", "keep/#"}[j]
				if i%20 == 0 {
					_ = s.Subscribe(filter, 1)
				} else {
					_ = s.Unsubscribe(filter)
				}
			}
		}
		for _, c := range all {
			c.Update()
		}
	}
	tickUntil(t, "every retained message delivered", func() bool { return pub.Stats().InFlight == 0 && pub.Stats().Queued == 0 }, all...)

	late := newClient(t, b.URL(), nil)
	late.Connect()
	if err := late.Subscribe("keep/+/x", 1); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var msgs []mqttgame.Message
	tickUntil(t, "every retained message", func() bool {
		msgs = late.AppendMessages(msgs[:0], "keep/+/x")
		for _, m := range msgs {
			seen[m.Topic] = true
		}
		return len(seen) == topics
	}, late)
}

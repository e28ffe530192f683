//go:build !js

package mqttgame_test

import (
	"fmt"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestPublishAfterSubscribeComesBack: on a live connection, a message
// published right after Subscribe, to the filter just subscribed, goes to
// the broker after the SUBSCRIBE and comes back. The connection's sender
// and the subscriptions' goroutine both write to it; without the outbox
// waiting for the subscription change, the PUBLISH could go first and the
// broker would route it to nobody.
func TestPublishAfterSubscribeComesBack(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.DataLoss = mqttgame.FIFO })
	connect(t, c)
	const n = 200
	for i := range n {
		topic := fmt.Sprintf("order/%d", i)
		if err := c.Subscribe(topic, mqttgame.AtMostOnce); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PublishString(topic, "back", mqttgame.AtMostOnce, false); err != nil {
			t.Fatal(err)
		}
		// Every few, let both goroutines run dry, so that the next pair
		// meets an idle connection, as a game's first Subscribe does.
		if i%10 == 9 {
			tickUntil(t, "subscribed", func() bool { return c.IsSubscribed(topic) }, c)
		}
	}
	missing := func() (topics []string) {
		for i := range n {
			if topic := fmt.Sprintf("order/%d", i); c.LastMessage(topic) != "back" {
				topics = append(topics, topic)
			}
		}
		return topics
	}
	tickUntil(t, fmt.Sprintf("all %d messages back", n), func() bool { return len(missing()) == 0 }, c)
}

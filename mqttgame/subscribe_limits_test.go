//go:build !js

package mqttgame_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// demoFilters are the subscriptions of a game in a room with a
// 24-character name, as the demo makes them: each fits a 256-byte packet,
// together they do not.
func demoFilters() []string {
	room := "mqttgame-demo/" + strings.Repeat("r", 24)
	var fs []string
	for _, s := range []string{"presence/+", "scores/+", "scores/sync/+", "cursor/+", "chat", "dice", "board", "turn"} {
		fs = append(fs, room+"/"+s)
	}
	return fs
}

// subscribeOutcomes ticks c until every filter got EventSubscribed or
// EventSubscribeFailed, and returns the failures by filter.
func subscribeOutcomes(t *testing.T, c *mqttgame.Client, filters []string) map[string]error {
	t.Helper()
	failed := map[string]error{}
	tickUntil(t, "an outcome for every subscription", func() bool {
		done := map[string]bool{}
		for _, e := range eventsOf(c) {
			switch e.Kind {
			case mqttgame.EventSubscribed:
				done[e.Topic] = true
			case mqttgame.EventSubscribeFailed:
				done[e.Topic] = true
				failed[e.Topic] = e.Err
			}
		}
		for _, f := range filters {
			if !done[f] {
				return false
			}
		}
		return true
	}, c)
	return failed
}

// TestSubscribeFitsAnnouncedMaximumPacketSize: a broker that announces a
// 256-byte maximum packet size gets the demo's subscriptions in packets
// that fit it, and a filter that can never fit is refused (at Subscribe
// when the limit is known, with EventSubscribeFailed when it is learnt
// from CONNACK) instead of costing the connection, over and over.
func TestSubscribeFitsAnnouncedMaximumPacketSize(t *testing.T) {
	t.Parallel()
	const maxPacket = 256
	b := startBroker(t, &broker.Options{MaxPacketSize: maxPacket})
	c := newClient(t, b.URL(), nil)

	long := "mqttgame-demo/" + strings.Repeat("x", 300)
	filters := demoFilters()
	for _, f := range append([]string{long}, filters...) {
		if err := c.Subscribe(f, 1); err != nil {
			t.Fatalf("Subscribe(%q) before connecting: %v", f, err)
		}
	}
	connect(t, c)
	failed := subscribeOutcomes(t, c, append([]string{long}, filters...))
	var le *mqttgame.LimitError
	if err := failed[long]; !errors.As(err, &le) || !errors.Is(err, mqttgame.ErrPayloadTooLarge) || le.Max != maxPacket || le.Got != 1+2+2+1+2+len(long)+1 {
		t.Fatalf("the filter too long for any packet: err = %#v, want a LimitError against %d", err, maxPacket)
	}
	for _, f := range filters {
		if !c.IsSubscribed(f) {
			t.Errorf("not subscribed to %q (err %v)", f, failed[f])
		}
	}
	if got := c.Subscriptions(); len(got) != len(filters) {
		t.Errorf("Subscriptions() = %q, want the %d that fit", got, len(filters))
	}

	// Now the limit is known: refused at once, and nothing is sent.
	err := c.Subscribe(long, 0)
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "cannot subscribe to") {
		t.Fatalf("Subscribe of a filter that cannot fit, connected: err = %v, want a LimitError", err)
	}
	if err := c.Unsubscribe(long); !errors.Is(err, mqttgame.ErrPayloadTooLarge) {
		t.Fatalf("Unsubscribe of a filter that cannot fit, connected: err = %v, want ErrPayloadTooLarge", err)
	}

	// A message reaches the subscriptions, and unsubscribing from them
	// all fits too.
	chat := filters[4]
	if _, err := c.PublishString(chat, "hello", 1, false); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "the chat line", func() bool { return c.LastMessage(chat) == "hello" }, c)
	c.UnsubscribeAll()
	tickUntil(t, "every unsubscription", func() bool {
		n := 0
		for _, e := range eventsOf(c) {
			if e.Kind == mqttgame.EventUnsubscribed {
				n++
			}
		}
		return n == len(filters)
	}, c)
	if st := c.Stats(); st.ConnectionsLost != 0 || st.Connects != 1 {
		t.Fatalf("the subscriptions cost connections: %+v", st)
	}
}

// TestSubscribePoisonGivesUp: a broker that does not announce its
// maximum packet size (mochi-mqtt alone) drops the connection when a
// SUBSCRIBE is over it. The client sends the filters of such a packet one
// by one from then on, so the ordinary ones all get through; it gives up
// on a filter that alone costs the connection after a few tries, with
// EventSubscribeFailed, instead of reconnecting and resubscribing
// forever.
func TestSubscribePoisonGivesUp(t *testing.T) {
	t.Parallel()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 256
	url := serveMochi(t, caps, nil)

	c := newClient(t, url, func(o *mqttgame.Options) {
		o.ReconnectDelay = 5 * time.Millisecond
		o.MaxReconnectDelay = 20 * time.Millisecond
	})
	long := "mqttgame-demo/" + strings.Repeat("x", 300)
	filters := demoFilters()
	all := append([]string{long}, filters...)
	for _, f := range all {
		if err := c.Subscribe(f, 1); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, c)
	failed := subscribeOutcomes(t, c, all)
	if err := failed[long]; !errors.Is(err, mqttgame.ErrDropsConnection) || !strings.Contains(err.Error(), "SUBSCRIBE") {
		t.Fatalf("the filter the broker drops the connection for: err = %v, want ErrDropsConnection", err)
	}
	for _, f := range filters {
		if !c.IsSubscribed(f) {
			t.Errorf("not subscribed to %q (err %v)", f, failed[f])
		}
	}
	// Three tries when the broker says "packet too large", five when it
	// closes without a word; the batch of ordinary filters may cost one.
	if lost := c.Stats().ConnectionsLost; lost < 3 || lost > 6 {
		t.Errorf("ConnectionsLost = %d, want 3 to 6", lost)
	}
	chat := filters[4]
	if _, err := c.PublishString(chat, "still here", 1, false); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "a message through the restored subscriptions", func() bool { return c.LastMessage(chat) == "still here" }, c)
	lost := c.Stats().ConnectionsLost
	c.Subscribe(filters[0], 0) // one more round trip, to see the connection stays
	tickUntil(t, "the new subscription", func() bool { return sawEvent(c, mqttgame.EventSubscribed, 0) && c.IsSubscribed(filters[0]) }, c)
	if now := c.Stats().ConnectionsLost; now != lost {
		t.Fatalf("connections still lost after giving up: %d then %d", lost, now)
	}
}

// TestSubscribeBatchSplitWithoutAnnouncedLimit: many ordinary filters,
// each far under a limit the broker does not announce, all get through
// although one packet of them all is over it.
func TestSubscribeBatchSplitWithoutAnnouncedLimit(t *testing.T) {
	t.Parallel()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 256
	url := serveMochi(t, caps, nil)
	c := newClient(t, url, func(o *mqttgame.Options) { o.ReconnectDelay = 5 * time.Millisecond })
	var filters []string
	for i := range 30 {
		filters = append(filters, fmt.Sprintf("room/%02d/+", i))
	}
	for _, f := range filters {
		if err := c.Subscribe(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	connect(t, c)
	failed := subscribeOutcomes(t, c, filters)
	if len(failed) > 0 {
		t.Fatalf("refused: %v", failed)
	}
	if lost := c.Stats().ConnectionsLost; lost != 1 {
		t.Errorf("ConnectionsLost = %d, want 1: the packet of them all", lost)
	}
}

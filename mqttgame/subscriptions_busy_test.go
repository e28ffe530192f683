//go:build !js

package mqttgame_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestSubscribeRetriesPacketIDInUse: mochi refuses a SUBSCRIBE with 0x91
// "packet identifier in use" when one of its own messages in flight to
// the client has the same identifier, which happens when a resumed
// session brings messages back while the client restores its
// subscriptions. The client sends it again under another identifier
// instead of giving the subscription up.
func TestSubscribeRetriesPacketIDInUse(t *testing.T) {
	t.Parallel()
	b, srv := mqtttest.StartMochi(t, nil)
	proxy := newProxy(t, b.Addr().String())
	c := newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
		o.ClientID = "busy"
		o.SessionExpiry = time.Minute
		o.DataLoss = mqttgame.FIFO
		o.TopicQueueSize = 1
	})
	pub := newClient(t, b.URL(), nil)
	connect(t, c)
	connect(t, pub)
	filters := []string{"held/#", "a", "b", "c", "d"}
	for i, f := range filters {
		// An identifier each, so that each goes in a SUBSCRIBE of its own
		// and the restore uses as many packet identifiers.
		subscribe(t, c, f, mqttgame.SubscribeOptions{QoS: 1, SubscriptionID: i + 1})
	}
	// c is not ticked from here: the first message fills its queue and
	// the others stay in flight, unacknowledged, in the broker's session.
	const n = 16
	for i := range n {
		pub.PublishString("held/x", fmt.Sprint(i), 1, false)
	}
	waitUntil(t, "messages in flight to c", func() bool {
		cl, ok := srv.Clients.Get("busy")
		return ok && cl.State.Inflight.Len() >= n-1
	})
	proxy.Reset()
	shown := 0
	restored := func() bool {
		for _, f := range filters {
			if !c.IsSubscribed(f) {
				return false
			}
		}
		return true
	}
	tickUntil(t, "every subscription restored and every message shown", func() bool {
		if c.OnMessage("held/x") {
			shown++
		}
		return restored() && shown >= n
	}, c)
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventSubscribeFailed {
			t.Fatalf("a restored subscription was refused: %v", e)
		}
	}
}

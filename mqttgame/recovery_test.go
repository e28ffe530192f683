//go:build !js

package mqttgame_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestHalfOpenDetected stalls the connection (nothing gets through,
// nothing is closed) and measures how long the client takes to notice:
// within 1.5 times the keepalive, plus a little scheduling slack.
// It runs alone: it times the detection.
func TestHalfOpenDetected(t *testing.T) {
	const keepAlive = time.Second
	b := startBroker(t, nil)
	proxy, err := netfault.New(b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
		o.KeepAlive = keepAlive
		// Five connections lost within seconds back the client off; the
		// test measures detection, not that wait.
		o.ReconnectDelay, o.MaxReconnectDelay = 50*time.Millisecond, 200*time.Millisecond
	})
	connect(t, c)
	subscribe(t, c, "alive", mqttgame.SubscribeOptions{QoS: 1})

	var took []time.Duration
	for range 5 {
		proxy.Stall(true)
		stalled := time.Now()
		tickUntil(t, "the stall to be noticed", c.JustDisconnected, c)
		took = append(took, time.Since(stalled))
		if err := c.Err(); !errors.Is(err, mqttgame.ErrConnectionLost) || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("Err() = %v, want a lost connection for the keepalive", err)
		}
		proxy.Reset() // the stalled connections are dead anyway
		proxy.Stall(false)
		tickUntil(t, "reconnection", func() bool { return c.IsConnected() && c.IsSubscribed("alive") }, c)
	}
	slices.Sort(took)
	t.Logf("half-open connection noticed after %v (median %v, keepalive %v)", took, took[len(took)/2], keepAlive)
	if worst := took[len(took)-1]; worst > keepAlive*3/2+500*time.Millisecond {
		t.Fatalf("slowest detection took %v, over 1.5 × %v", worst, keepAlive)
	}
}

// TestReconnectAfterBrokerReturns stops the broker 20 times for a random
// while: after it is back, the client is connected with every
// subscription restored within 2 seconds at the 95th percentile.
// It runs alone: it restarts the broker on its port, which a test
// beside it could take.
func TestReconnectAfterBrokerReturns(t *testing.T) {
	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr, url := b.Addr().String(), b.URL()
	defer func() { b.Close() }()
	c := newClient(t, url, nil)
	connect(t, c)
	filters := []string{"room/+/chat", "room/state", "players/#"}
	for _, f := range filters {
		subscribe(t, c, f, mqttgame.SubscribeOptions{QoS: 1})
	}
	r := rand.New(rand.NewPCG(3, 4))
	var took []time.Duration
	for range 20 {
		b.Close()
		tickUntil(t, "the loss to be noticed", c.JustDisconnected, c)
		time.Sleep(time.Duration(100+r.IntN(600)) * time.Millisecond) // the broker is away
		if b, err = broker.Start(&broker.Options{Addr: addr}); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		tickUntil(t, "recovery", func() bool {
			if !c.IsConnected() {
				return false
			}
			for _, f := range filters {
				if !c.IsSubscribed(f) {
					return false
				}
			}
			return true
		}, c)
		took = append(took, time.Since(back))
	}
	slices.Sort(took)
	p95 := took[len(took)*95/100]
	t.Logf("connected with subscriptions back after the broker returned: p50 %v, p95 %v, max %v", took[len(took)/2], p95, took[len(took)-1])
	if p95 > 2*time.Second {
		t.Fatalf("p95 %v over 2s", p95)
	}
}

// TestAckWaitEndsWithConnection: an UNSUBSCRIBE in flight when the
// connection dies does not hold the next connection's subscriptions (and
// the publishes behind them) for AckTimeout.
func TestAckWaitEndsWithConnection(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	proxy, err := netfault.New(b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
		o.AckTimeout = time.Hour // longer than the test could wait
		o.KeepAlive = time.Hour
	})
	connect(t, c)
	subscribe(t, c, "a", mqttgame.SubscribeOptions{QoS: 1})
	subscribe(t, c, "b", mqttgame.SubscribeOptions{QoS: 1})
	proxy.Stall(true) // the UNSUBSCRIBE goes out; no answer comes back
	c.Unsubscribe("b")
	c.Subscribe("c", 1)
	update(c)
	proxy.Reset()
	proxy.Stall(false)
	tickUntil(t, "the loss", c.JustDisconnected, c)
	tickUntil(t, "subscriptions back on the next connection", func() bool {
		return c.IsSubscribed("a") && c.IsSubscribed("c") && !c.IsSubscribed("b")
	}, c)
	c.PublishString("a", "through", 1, false)
	tickUntil(t, "a message", func() bool { return c.LastMessage("a") == "through" }, c)
}

// TestResendAfterBrokerLostSession: QoS 1 and 2 publishes written but not
// acknowledged when the broker goes away, and comes back with no session,
// are sent again from the client's own outbox: the new broker gets every
// one, and each is reported delivered.
// It runs alone: it restarts the broker on its port, which a test
// beside it could take.
func TestResendAfterBrokerLostSession(t *testing.T) {
	count := newTally()
	b1 := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{count} }})
	addr := b1.Addr().String()
	proxy, err := netfault.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	c := newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
		o.SessionExpiry = time.Hour // paho keeps its own session state too
		o.ReconnectDelay = 10 * time.Millisecond
	})
	connect(t, c)

	proxy.Stall(true) // the publishes leave, the broker never sees them
	ids := map[mqttgame.PublishID]bool{}
	for i := range 50 {
		for _, qos := range []mqttgame.QoS{1, 2} {
			id, err := c.PublishString(fmt.Sprintf("fault/q%d/0", qos), strconv.Itoa(i), qos, false)
			if err != nil {
				t.Fatal(err)
			}
			ids[id] = true
		}
	}
	update(c)
	b1.Close() // the broker and every session it had are gone
	b2 := startBroker(t, &broker.Options{Addr: addr, Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{count} }})
	_ = b2
	proxy.Reset()
	proxy.Stall(false)

	tickUntil(t, "every publish delivered", func() bool {
		for _, e := range eventsOf(c) {
			if e.Kind == mqttgame.EventDelivered {
				delete(ids, e.ID)
			}
		}
		return len(ids) == 0
	}, c)
	for _, qos := range []int{1, 2} {
		if lost, _ := lossAndDups(count.seen(qos, 50)); lost != 0 {
			t.Errorf("QoS %d: the broker never got %d of 50 (%v)", qos, lost, missing(count.seen(qos, 50)))
		}
	}
	var sessionPresent []bool
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventConnected {
			sessionPresent = append(sessionPresent, e.SessionPresent)
		}
	}
	if len(sessionPresent) < 2 || sessionPresent[len(sessionPresent)-1] {
		t.Fatalf("connections' session present flags %v: the test needs the last without a session", sessionPresent)
	}
}

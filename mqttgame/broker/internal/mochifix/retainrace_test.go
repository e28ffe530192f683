package mochifix

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
)

// retainWhileSubscribing has one client set retained messages on a few
// topics over and over while another subscribes and unsubscribes to them
// with wildcards, each SUBSCRIBE reading the retained messages: the
// traffic under which mochi races. Then a new subscriber must find every
// retained message.
func retainWhileSubscribing(t *testing.T, s *server) {
	t.Helper()
	const topics, publishes = 50, 5000
	pub, _ := dial(t, s.addr, session{id: "pub"})
	churn, _ := dial(t, s.addr, session{id: "churn"})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // what churn is sent, unread, would block the server
		defer wg.Done()
		_ = churn.c.SetReadDeadline(time.Time{})
		for {
			if _, err := packets.ReadPacket(churn.c); err != nil {
				return
			}
		}
	}()
	published := make(chan struct{})
	go func() {
		defer wg.Done()
		defer close(published)
		for i := range publishes {
			cp := publishPacket(fmt.Sprintf("k/%d/x", i%topics), "v", 0, 0)
			cp.Content.(*packets.Publish).Retain = true
			if _, err := cp.WriteTo(pub.c); err != nil {
				return
			}
		}
	}()
	for i := 0; ; i++ {
		if i > 0 && i%2 == 0 && isClosed(published) {
			break
		}
		var cp *packets.ControlPacket
		if i%2 == 0 {
			cp = packets.NewControlPacket(packets.SUBSCRIBE)
			sub := cp.Content.(*packets.Subscribe)
			sub.PacketID = uint16(i%60000 + 1)
			sub.Subscriptions = []packets.SubOptions{{Topic: []string{"k/+/x", "k/#"}[i/2%2]}}
		} else {
			cp = packets.NewControlPacket(packets.UNSUBSCRIBE)
			u := cp.Content.(*packets.Unsubscribe)
			u.PacketID = uint16(i%60000 + 1)
			u.Topics = []string{[]string{"k/+/x", "k/#"}[i/2%2]}
		}
		churn.send(cp)
	}
	pub.publish("k/done", "", 1, 1)
	if ack := pub.read(); ack.Type != packets.PUBACK {
		t.Fatalf("publisher: got %v", ack)
	}
	churn.c.Close()
	wg.Wait()

	late, _ := dial(t, s.addr, session{id: "late"})
	late.subscribe("k/+/x", 0)
	seen := map[string]bool{}
	for len(seen) < topics {
		if p, ok := late.read().Content.(*packets.Publish); ok {
			seen[p.Topic] = true
		}
	}
}

// TestRetainRaceBare: under the race detector, bare mochi reports a data
// race between retaining and subscribing (run it with MOCHIFIX_BARE=1).
func TestRetainRaceBare(t *testing.T) {
	bareOnly(t, raceOfBareMochi)
	retainWhileSubscribing(t, startServer(t, serverOptions{}))
}

// TestRetainRaceFixed: with RetainLock the same traffic runs without a
// race, and every retained message is kept.
func TestRetainRaceFixed(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{hooks: func(srv *mqtt.Server) []mqtt.Hook {
		return []mqtt.Hook{NewRetainLock(srv.Options.Capabilities)}
	}})
	retainWhileSubscribing(t, s)
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

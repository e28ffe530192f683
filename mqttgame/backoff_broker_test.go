//go:build !js

package mqttgame_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestBackoffAgainstDroppingBrokerLive: a real broker that accepts every
// connection and closes it silently 1.5 s later gets the client back
// after a growing wait, not at once: two attempts in the first 6 s with a
// 1 s ReconnectDelay (a reset after every connection gave four or five).
func TestBackoffAgainstDroppingBrokerLive(t *testing.T) {
	t.Parallel()
	const dropAfter, window = 1500 * time.Millisecond, 6 * time.Second
	var mu sync.Mutex
	var attempts []time.Time
	addr := rawBroker(t, func(c net.Conn) {
		if _, err := packets.ReadPacket(c); err != nil {
			return
		}
		mu.Lock()
		attempts = append(attempts, time.Now())
		mu.Unlock()
		(&packets.Connack{Properties: &packets.Properties{}}).WriteTo(c)
		c.SetReadDeadline(time.Now().Add(dropAfter))
		for {
			if _, err := packets.ReadPacket(c); err != nil {
				return // the deadline passed: close without a word
			}
		}
	})
	c := newClient(t, "mqtt://"+addr, func(o *mqttgame.Options) { o.ReconnectDelay = time.Second })
	c.Connect()
	tickUntil(t, "the first connection", c.IsConnected, c)
	mu.Lock()
	first := attempts[0]
	mu.Unlock()
	deadline := time.NewTimer(time.Until(first.Add(window)))
	defer deadline.Stop()
	ticks := time.NewTicker(10 * time.Millisecond)
	defer ticks.Stop()
	for done := false; !done; {
		select {
		case <-deadline.C:
			done = true
		case <-ticks.C:
			update(c)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	var in []time.Duration
	for _, at := range attempts {
		if d := at.Sub(first); d < window {
			in = append(in, d)
		}
	}
	t.Logf("attempts at %v", in)
	if len(in) > 2 {
		t.Fatalf("%d attempts in %v against a broker that drops after %v: %v", len(in), window, dropAfter, in)
	}
	if len(in) < 2 {
		t.Fatalf("the client did not come back within %v: %v", window, in)
	}
}

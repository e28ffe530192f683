//go:build !js

package mqttgame_test

import (
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestKeepAlive: KeepAlive reports the client's own keepalive, or the
// broker's Server Keep Alive, which the client then follows: idle for
// twice it, the connection stays up, where a client that kept its own
// 30 s would be dropped by the broker after 3 s. (mochi drops a client
// after keepalive+keepalive/2 in whole seconds: 1 s for 1 s, so 2 s is
// the shortest keepalive worth testing with.)
// It runs alone: it waits out real keepalives.
func TestKeepAlive(t *testing.T) {
	plain := startBroker(t, nil)
	c := newClient(t, plain.URL(), func(o *mqttgame.Options) { o.KeepAlive = 1400 * time.Millisecond })
	if ka := c.KeepAlive(); ka != 0 {
		t.Fatalf("KeepAlive() = %v before connecting, want 0", ka)
	}
	connect(t, c)
	if ka := c.KeepAlive(); ka != time.Second {
		t.Fatalf("KeepAlive() = %v, want 1s (1.4s in whole seconds)", ka)
	}

	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{mqtttest.ServerKeepAlive(2)} }})
	c = newClient(t, b.URL(), func(o *mqttgame.Options) { o.KeepAlive = 30 * time.Second })
	connect(t, c)
	if ka := c.KeepAlive(); ka != 2*time.Second {
		t.Fatalf("KeepAlive() = %v, want the broker's 2s", ka)
	}
	// Idle for 2 keepalives: staying connected is what is being tested.
	idle := time.Now().Add(4 * time.Second)
	for time.Now().Before(idle) {
		update(c)
		time.Sleep(10 * time.Millisecond)
	}
	if !c.IsConnected() || c.Stats().ConnectionsLost != 0 {
		t.Fatalf("connected=%v lost=%d: the client did not ping within the broker's keepalive", c.IsConnected(), c.Stats().ConnectionsLost)
	}
}

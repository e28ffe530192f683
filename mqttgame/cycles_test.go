//go:build !js

package mqttgame_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestConnectDisconnectCyclesLeaveNothing connects and disconnects a
// client 1,000 times: no goroutine is left behind.
// It runs alone: it checks the goroutines of the whole process.
func TestConnectDisconnectCyclesLeaveNothing(t *testing.T) {
	b := startBroker(t, nil)
	before := goleak.IgnoreCurrent()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	c.Subscribe("cycle", 1)
	for i := range 1000 {
		if err := c.Connect(); err != nil {
			t.Fatal(err)
		}
		tickUntil(t, "connected", c.JustConnected, c)
		if i%100 == 0 {
			c.PublishString("cycle", "x", 1, false)
		}
		c.Disconnect()
		tickUntil(t, "disconnected", c.JustDisconnected, c)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, before)
}

//go:build !js

package mqttgame_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestWillTooLargeReported: a broker that closes the connection at a
// CONNECT over its maximum packet size, without CONNACK (mochi-mqtt),
// because of the will. After a few such attempts the connect error names
// the will and the size of the CONNECT, and matches ErrWillRefused,
// instead of an end of file every time.
func TestWillTooLargeReported(t *testing.T) {
	t.Parallel()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 256
	url := serveMochi(t, caps, nil)
	c := newClient(t, url, func(o *mqttgame.Options) {
		o.ReconnectDelay = 5 * time.Millisecond
		o.MaxReconnectDelay = 20 * time.Millisecond
		o.Will = &mqttgame.Will{Topic: "game/left", Payload: []byte(strings.Repeat("w", 300))}
	})
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	var failures []error
	tickUntil(t, "a connect error naming the will", func() bool {
		failures = failures[:0]
		for _, e := range eventsOf(c) {
			if e.Kind == mqttgame.EventConnectFailed {
				failures = append(failures, e.Err)
			}
		}
		return len(failures) > 0 && errors.Is(failures[len(failures)-1], mqttgame.ErrWillRefused)
	}, c)
	err := failures[len(failures)-1]
	var ce *mqttgame.ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"game/left"`) || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("err = %v, want a ConnectError naming the will and the size", err)
	}
	t.Log(err)
	if len(failures) != 3 {
		t.Errorf("reported after %d attempts, want 3: %v", len(failures), failures)
	}
}

// Package mqtttest holds what the tests of the library's packages and of
// the demo share: an embedded broker for one test, and the deadline-bound
// wait of a game loop for something the network should do.
package mqtttest

import (
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// WaitFor is how long a test waits for something the network should do.
const WaitFor = 10 * time.Second

// StartBroker starts an embedded broker with opts (nil: the defaults),
// closed when the test ends.
func StartBroker(t testing.TB, opts *broker.Options) *broker.Broker {
	t.Helper()
	b, err := broker.Start(opts)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TickUntil calls tick (if not nil), as a game loop would, until cond
// holds after it, once a millisecond. After WaitFor it calls report (if
// not nil), to log what the test sees, and fails the test. It returns the
// number of ticks it took.
func TickUntil(t testing.TB, what string, tick func(), cond func() bool, report func()) int {
	t.Helper()
	deadline := time.Now().Add(WaitFor)
	for n := 1; ; n++ {
		if tick != nil {
			tick()
		}
		if cond() {
			return n
		}
		if time.Now().After(deadline) {
			if report != nil {
				report()
			}
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

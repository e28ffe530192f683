// Package mqtttest holds what the tests of the library's packages and of
// the demo and the e2e suites share: an embedded broker and a client for
// one test, the deadline-bound wait of a game loop for something the
// network should do, a raw CONNECT probe, and broker hooks.
package mqtttest

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// WaitFor is how long a test waits for something the network should do,
// on a machine with nothing else to do; TickUntil scales it to the load.
const WaitFor = 10 * time.Second

// maxSlowdown bounds Scale: a wait never grows past this many times.
const maxSlowdown = 6

// Scale returns d stretched for a machine busy with other work: d times
// the runnable threads per CPU (Linux's one-minute load average), between
// 1 and maxSlowdown times. A test run beside others gets a share of the
// CPUs, and its waits take longer by about that much; a passing test
// waits no longer for it.
func Scale(d time.Duration) time.Duration {
	f := 1.0
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if fields := strings.Fields(string(b)); len(fields) > 0 {
			if load, err := strconv.ParseFloat(fields[0], 64); err == nil {
				f = min(max(load/float64(runtime.NumCPU()), 1), maxSlowdown)
			}
		}
	}
	return time.Duration(float64(d) * f)
}

// NewClient returns a client with opts, closed when the test ends. It
// does not connect.
func NewClient(t testing.TB, opts *mqttgame.Options) *mqttgame.Client {
	t.Helper()
	c, err := mqttgame.New(opts)
	if err != nil {
		t.Fatalf("New %q: %v", opts.ClientID, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

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

// StartMochi starts an embedded broker as StartBroker does, and returns
// it with the mochi-mqtt server underneath (reached through
// broker.Options.Mochi), for a test that reads the server's counters or
// sessions.
func StartMochi(t testing.TB, opts *broker.Options) (*broker.Broker, *mqtt.Server) {
	t.Helper()
	var o broker.Options
	if opts != nil {
		o = *opts
	}
	var srv *mqtt.Server
	then := o.Mochi
	o.Mochi = func(s *mqtt.Server) []mqtt.Hook {
		srv = s
		if then != nil {
			return then(s)
		}
		return nil
	}
	return StartBroker(t, &o), srv
}

// TickUntil calls tick (if not nil), as a game loop would, until cond
// holds after it, once a millisecond. After WaitFor, scaled to the
// machine's load, it calls report (if not nil), to log what the test
// sees, and fails the test. It returns the number of ticks it took.
func TickUntil(t testing.TB, what string, tick func(), cond func() bool, report func()) int {
	t.Helper()
	return TickUntilWithin(t, WaitFor, what, tick, cond, report)
}

// TickUntilWithin is TickUntil with limit, scaled to the machine's load,
// in place of WaitFor: for a suite whose waits are longer, or for
// something that must happen within a bound.
func TickUntilWithin(t testing.TB, limit time.Duration, what string, tick func(), cond func() bool, report func()) int {
	t.Helper()
	limit = Scale(limit)
	deadline := time.Now().Add(limit)
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
			t.Fatalf("timed out waiting for %s (%v)", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
}

// TickFor calls tick, as a game loop would, once a millisecond for d:
// for tests where time passing is the point (a keepalive, an expiry,
// something that must not happen), not a way to wait for an event.
func TickFor(d time.Duration, tick func()) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		tick()
		time.Sleep(time.Millisecond)
	}
}

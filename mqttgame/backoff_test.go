package mqttgame

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestBackoffAgainstRefusingBroker replays a broker that refuses every
// attempt, with the default delays and the jitter at its earliest: it sees
// at most five attempts in the first minute, then at most one every 24
// seconds.
func TestBackoffAgainstRefusingBroker(t *testing.T) {
	t.Parallel()
	var o Options
	o.ensureDefaults()
	var attempts []time.Duration
	var now time.Duration
	for failures := 0; len(attempts) < 12; failures += refusal {
		now += backoffDelay(failures, o.ReconnectDelay, o.MaxReconnectDelay, 0)
		attempts = append(attempts, now)
	}
	inFirstMinute := 0
	for _, at := range attempts {
		if at < time.Minute {
			inFirstMinute++
		}
	}
	if inFirstMinute > 5 {
		t.Errorf("%d attempts in the first minute, at %v", inFirstMinute, attempts)
	}
	for i := 6; i < len(attempts); i++ {
		if gap := attempts[i] - attempts[i-1]; gap < 24*time.Second {
			t.Errorf("attempts %d and %d only %v apart", i-1, i, gap)
		}
	}
	t.Logf("attempts at %v", attempts)
}

// TestBackoffNetworkFailures: against a broker that is just away, the
// waits grow from ReconnectDelay, and a stable connection starts over.
func TestBackoffNetworkFailures(t *testing.T) {
	t.Parallel()
	c, err := New(&Options{Brokers: []string{"ws://localhost/mqtt"}, ReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := c.backoff(); d != 0 {
		t.Fatalf("first attempt waits %v, want 0", d)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		c.failures = i + 1
		d := c.backoff()
		w *= time.Millisecond
		if d < w-w/5 || d > w+w/5 {
			t.Errorf("after %d failures: %v, want %v ± 20%%", i+1, d, w)
		}
	}
}

// TestConnectErrorAfterAcceptedConnack: paho reports a connection that
// failed right after the broker accepted it (paho could not resend what
// the session holds) as an error with a CONNACK of reason "success". That
// is a network failure, not a refusal: it does not triple the backoff,
// and the error says what failed.
func TestConnectErrorAfterAcceptedConnack(t *testing.T) {
	t.Parallel()
	c, err := New(&Options{Brokers: []string{"ws://127.0.0.1:1/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	lost := errors.New("write: connection reset by peer")
	for _, tc := range []struct {
		code    byte
		refusal bool
	}{
		{0x00, false},
		{0x86, true},
	} {
		c.mu.Lock()
		c.failures = 0
		c.mu.Unlock()
		c.connectFailed(fmt.Errorf("session error: %w", lost), &paho.Connack{ReasonCode: tc.code})
		c.Update()
		var be *BrokerError
		isRefusal := errors.As(c.Err(), &be)
		c.mu.Lock()
		failures := c.failures
		c.mu.Unlock()
		if isRefusal != tc.refusal || (failures == refusal) != tc.refusal {
			t.Errorf("reason 0x%02X: err %v, %d failures counted; want a refusal: %v", tc.code, c.Err(), failures, tc.refusal)
		}
		if !tc.refusal && !errors.Is(c.Err(), lost) {
			t.Errorf("reason 0x%02X: err %v does not carry the network failure", tc.code, c.Err())
		}
	}
}

// TestBackoffAgainstDroppingBroker replays, on a fake clock, a broker that
// accepts every connection and drops it silently after a few seconds,
// through the client's own up, lost and backoff with the default
// options: it sees a handful of attempts in the first minute and about
// two a minute after. A broker that holds connections for minutes gets
// the client back at once after each loss.
func TestBackoffAgainstDroppingBroker(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		dropAfter           time.Duration
		maxFirst, maxPerMin int
		immediateReconnect  bool
	}{
		{dropAfter: 1500 * time.Millisecond, maxFirst: 5, maxPerMin: 3},
		{dropAfter: 4 * time.Second, maxFirst: 5, maxPerMin: 3},
		{dropAfter: 2 * time.Minute, maxFirst: 1, maxPerMin: 1, immediateReconnect: true},
	}
	for _, tc := range testCases {
		t.Run(tc.dropAfter.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c, err := New(&Options{Brokers: []string{"ws://localhost/mqtt"}})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				start := time.Now()
				var attempts []time.Duration
				for time.Since(start) < 10*time.Minute {
					attempts = append(attempts, time.Since(start))
					c.up(&paho.Connack{Properties: &paho.ConnackProperties{}})
					time.Sleep(tc.dropAfter)
					c.lost()
					c.Update()
					wait := c.backoff()
					if tc.immediateReconnect && wait != 0 {
						t.Fatalf("after a connection held %v, the client waits %v", tc.dropAfter, wait)
					}
					time.Sleep(wait)
				}
				first, most := perMinute(attempts)
				t.Logf("broker dropping after %v: %d attempts in the first minute, at most %d in any later minute, %.1f a minute over 10 minutes",
					tc.dropAfter, first, most, float64(len(attempts))/10)
				if first > tc.maxFirst || most > tc.maxPerMin {
					t.Errorf("%d attempts in the first minute (want at most %d), %d in a later minute (want at most %d): at %v",
						first, tc.maxFirst, most, tc.maxPerMin, attempts)
				}
			})
		})
	}
}

// perMinute returns how many attempts fell in the first minute, and the
// most that fell in any minute-long window starting after it.
func perMinute(attempts []time.Duration) (first, most int) {
	for i, at := range attempts {
		if at < time.Minute {
			first++
			continue
		}
		n := 0
		for _, later := range attempts[i:] {
			if later-at < time.Minute {
				n++
			}
		}
		most = max(most, n)
	}
	return first, most
}

// TestFailuresAfterLoss: a stable connection starts the count over (at a
// refusal's weight when the broker ended it with a failure code); one
// that was not stable adds to it; a broker shutting down resets it.
func TestFailuresAfterLoss(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name                         string
		before                       int
		stable, kicked, shuttingDown bool
		want                         int
	}{
		{"stable", 7, true, false, false, 0},
		{"stable, kicked", 7, true, true, false, refusal},
		{"short-lived", 2, false, false, false, 2 + shortLived},
		{"short-lived, kicked", 2, false, true, false, 2 + refusal},
		{"shutting down", 7, false, true, true, 0},
	}
	for _, tc := range testCases {
		if got := failuresAfterLoss(tc.before, tc.stable, tc.kicked, tc.shuttingDown); got != tc.want {
			t.Errorf("%s: %d failures, want %d", tc.name, got, tc.want)
		}
	}
	if got := stableAfter(30 * time.Second); got != time.Minute {
		t.Errorf("stable after %v with a 30s keepalive, want 1m", got)
	}
	if got := stableAfter(0); got != minStable {
		t.Errorf("stable after %v with no keepalive, want %v", got, minStable)
	}
}

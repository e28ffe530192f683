package mqttgame

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
)

// TestBackoffAgainstRefusingBroker replays a broker that refuses every
// attempt, with the default delays and the jitter at its earliest: it sees
// at most five attempts in the first minute, then at most one every 24
// seconds.
func TestBackoffAgainstRefusingBroker(t *testing.T) {
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
	c, err := New(&Options{Brokers: []string{"ws://localhost/mqtt"}, ReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := c.backoff(0); d != 0 {
		t.Fatalf("first attempt waits %v, want 0", d)
	}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		c.failures = i + 1
		d := c.backoff(0)
		w *= time.Millisecond
		if d < w-w/5 || d > w+w/5 {
			t.Errorf("after %d failures: %v, want %v ± 20%%", i+1, d, w)
		}
	}
}

// TestConnectErrorAfterAcceptedConnack: autopaho reports a connection
// that failed right after the broker accepted it (paho could not resend
// what the session holds) as a CONNACK error with reason "success". That
// is a network failure, not a refusal: it does not triple the backoff,
// and the error says what failed.
func TestConnectErrorAfterAcceptedConnack(t *testing.T) {
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
		c.onConnectError(fmt.Errorf("failed to connect: %w", &autopaho.ConnackError{ReasonCode: tc.code, Err: lost}))
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

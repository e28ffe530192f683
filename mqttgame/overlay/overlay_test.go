package overlay_test

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
	"github.com/mqttgame/mqttgame/mqttgame/overlay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a clock the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func tickUntil(t *testing.T, what string, c *mqttgame.Client, m *overlay.Monitor, cond func() bool) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		c.Update()
		m.Update()
	}, cond, func() { t.Logf("status %+v", m.Status()) })
}

// TestStatusFollowsConnection: the status says connected, counts the
// traffic per second, says in plain words that the broker went away,
// shows the client trying again, and shows it back once the broker is.
func TestStatusFollowsConnection(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr().String()
	defer func() { b.Close() }()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}, ReconnectDelay: 20 * time.Millisecond, MaxReconnectDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	clk := &clock{t: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)}
	m := overlay.New(c, &overlay.Options{Note: "hosting the broker", Now: clk.now})
	c.Connect()
	c.Subscribe("echo", mqttgame.AtMostOnce)
	tickUntil(t, "subscribed", c, m, func() bool { return c.IsSubscribed("echo") })
	if s := m.Status(); !s.Connected || s.Connecting || s.Broker != b.URL() || s.Err != "" {
		t.Fatalf("connected status: %+v", s)
	}

	// Start a one-second window, send 30 messages in it, close it.
	clk.advance(time.Second)
	c.Update()
	m.Update()
	for range 30 {
		c.PublishString("echo", "x", mqttgame.AtMostOnce, false)
	}
	start := m.Status()
	tickUntil(t, "30 messages back", c, m, func() bool { return c.Stats().Received >= 30 })
	if s := m.Status(); s.InPerSec != start.InPerSec {
		t.Fatalf("rates changed within the second: %+v", s)
	}
	clk.advance(time.Second)
	c.Update()
	m.Update()
	if s := m.Status(); s.InPerSec != 30 || s.OutPerSec != 30 {
		t.Fatalf("rates: in %v out %v, want 30 and 30", s.InPerSec, s.OutPerSec)
	}

	b.Close()
	tickUntil(t, "disconnected", c, m, func() bool { return !m.Status().Connected })
	s := m.Status()
	if !s.Connecting || s.Err == "" || strings.Contains(s.Err, "mqttgame:") {
		t.Fatalf("after the broker went away: %+v", s)
	}
	lines := s.AppendLines(nil, clk.now().Add(5*time.Second))
	if !strings.HasPrefix(lines[0], "reconnecting to ") || !strings.Contains(lines[2], "5s ago") || lines[3] != "hosting the broker" {
		t.Fatalf("lines: %q", lines)
	}

	b, err = broker.Start(&broker.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "reconnected", c, m, func() bool { return m.Status().Connected })
	if s := m.Status(); s.Err == "" || s.Connecting {
		t.Fatalf("after recovery: %+v; want connected, with the last error kept", s)
	}
}

// TestUnreachableInPlainWords: nothing listening reads as such.
func TestUnreachableInPlainWords(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "ws://" + ln.Addr().String() + "/mqtt"
	ln.Close()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{url}, ReconnectDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := overlay.New(c, nil)
	c.Connect()
	tickUntil(t, "an error", c, m, func() bool { return m.Status().Err != "" })
	if s := m.Status(); s.Err != "no broker answers at that address" || !s.Connecting || s.Broker != url {
		t.Fatalf("status: %+v", s)
	}
	c.Disconnect()
	tickUntil(t, "stopped", c, m, func() bool { return !m.Status().Connecting })
	if l := m.Status().AppendLines(nil, time.Now())[0]; !strings.HasPrefix(l, "not connected") {
		t.Fatalf("after Disconnect: %q", l)
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{&mqttgame.ConnectError{URL: "ws://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, "no broker answers at that address"},
		{&mqttgame.ConnectError{URL: "ws://x", Err: &mqttgame.BrokerError{Op: "connect", Code: mqttgame.ReasonBadUsernameOrPassword}}, "wrong user name or password"},
		{&mqttgame.LostError{Err: &mqttgame.BrokerError{Op: "disconnect", Code: mqttgame.ReasonServerShuttingDown}}, "the broker shut down"},
		{&mqttgame.LostError{Err: &mqttgame.BrokerError{Op: "disconnect", Code: mqttgame.ReasonSessionTakenOver}}, "another window joined with the same client ID and took over"},
		{&mqttgame.LostError{}, "the connection to the broker was lost"},
		{&mqttgame.BrokerError{Op: "subscribe", Code: mqttgame.ReasonNotAuthorized}, "the broker does not allow this"},
		{&mqttgame.BrokerError{Op: "publish", Code: mqttgame.ReasonQuotaExceeded}, "the broker refused: quota exceeded (0x97)"},
		{mqttgame.ErrOutboxFull, "too many messages waiting to be sent"},
		{errors.New("mqttgame: something else"), "something else"},
	}
	for _, tc := range testCases {
		if got := overlay.Describe(tc.err); got != tc.want {
			t.Errorf("Describe(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

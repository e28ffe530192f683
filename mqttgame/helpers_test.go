//go:build !js

package mqttgame_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// waitFor is how long a test waits for something the network should do.
const waitFor = mqtttest.WaitFor

// startBroker starts an embedded broker for one test.
func startBroker(t testing.TB, opts *broker.Options) *broker.Broker {
	t.Helper()
	return mqtttest.StartBroker(t, opts)
}

// newClient makes a client of the broker, closed when the test ends. Its
// log goes to the test log, shown only if the test fails.
func newClient(t testing.TB, url string, edit func(*mqttgame.Options)) *mqttgame.Client {
	t.Helper()
	o := &mqttgame.Options{Brokers: []string{url}, Logger: testLogger(t)}
	if edit != nil {
		edit(o)
	}
	c, err := mqttgame.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close(); history.forget(c) })
	return c
}

// history keeps every event each client showed in the ticks the helpers
// ran, so a test can look for one whichever tick it came in.
var history = &eventHistory{seen: map[*mqttgame.Client][]mqttgame.Event{}}

type eventHistory struct {
	mu   sync.Mutex
	seen map[*mqttgame.Client][]mqttgame.Event
}

func (h *eventHistory) record(c *mqttgame.Client) {
	h.mu.Lock()
	h.seen[c] = c.AppendEvents(h.seen[c])
	h.mu.Unlock()
}

func (h *eventHistory) forget(c *mqttgame.Client) {
	h.mu.Lock()
	delete(h.seen, c)
	h.mu.Unlock()
}

// eventsOf returns the events c showed so far in helper ticks.
func eventsOf(c *mqttgame.Client) []mqttgame.Event {
	history.mu.Lock()
	defer history.mu.Unlock()
	return append([]mqttgame.Event(nil), history.seen[c]...)
}

// sawEvent reports whether c showed an event of this kind (for this
// publish, unless id is 0) in any helper tick so far.
func sawEvent(c *mqttgame.Client, kind mqttgame.EventKind, id mqttgame.PublishID) bool {
	for _, e := range eventsOf(c) {
		if e.Kind == kind && (id == 0 || e.ID == id) {
			return true
		}
	}
	return false
}

// update runs one tick of c and records its events.
func update(c *mqttgame.Client) {
	c.Update()
	history.record(c)
}

// tickUntil calls Update on the clients, as a game loop would, until cond
// holds after a tick; it fails the test after waitFor. It returns the
// number of ticks it took.
func tickUntil(t testing.TB, what string, cond func() bool, clients ...*mqttgame.Client) int {
	t.Helper()
	return mqtttest.TickUntil(t, what, func() {
		for _, c := range clients {
			update(c)
		}
	}, cond, func() {
		for _, c := range clients {
			t.Logf("client %s: connected=%v err=%v stats=%+v", c.ClientID(), c.IsConnected(), c.Err(), c.Stats())
		}
	})
}

// connect connects c and ticks until it is connected.
func connect(t testing.TB, c *mqttgame.Client) {
	t.Helper()
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "connection", c.IsConnected, c)
}

// subscribe subscribes c and ticks until the broker granted it.
func subscribe(t testing.TB, c *mqttgame.Client, filter string, opts mqttgame.SubscribeOptions) {
	t.Helper()
	if err := c.SubscribeWith(filter, opts); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "subscription to "+filter, func() bool { return c.IsSubscribed(filter) }, c)
}

// testLogger returns a logger that keeps its lines and prints them only
// if the test fails.
func testLogger(t testing.TB) *slog.Logger { return testLoggerAt(t, slog.LevelDebug) }

// testLoggerAt is testLogger for the given level and above.
func testLoggerAt(t testing.TB, level slog.Level) *slog.Logger {
	w := new(syncbuf.Buffer)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("client log:\n" + logTail(w.String(), 200))
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// logTail returns the last n lines of log, saying how many it left out.
func logTail(log string, n int) string {
	lines := strings.SplitAfter(log, "\n")
	if len(lines) <= n+1 {
		return log
	}
	return fmt.Sprintf("(%d earlier lines left out)\n", len(lines)-n) + strings.Join(lines[len(lines)-n:], "")
}

// waitUntil polls cond until it holds, failing the test after waitFor.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	mqtttest.TickUntil(t, what, nil, cond, nil)
}

// observer is a broker hook that counts, per client ID, the connections
// the broker finished closing (after publishing any will) and the QoS 1
// and 2 messages it finished delivering.
type observer struct {
	mqtt.HookBase
	mu           sync.Mutex
	disconnected map[string]int
	qosDone      map[string]int
}

func newObserver() *observer {
	return &observer{disconnected: map[string]int{}, qosDone: map[string]int{}}
}

func (h *observer) ID() string { return "test-observer" }

func (h *observer) Provides(b byte) bool {
	return b == mqtt.OnDisconnect || b == mqtt.OnQosComplete
}

func (h *observer) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.mu.Lock()
	h.disconnected[cl.ID]++
	h.mu.Unlock()
}

func (h *observer) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	h.mu.Lock()
	h.qosDone[cl.ID]++
	h.mu.Unlock()
}

func (h *observer) disconnects(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.disconnected[id]
}

func (h *observer) delivered(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.qosDone[id]
}

// newProxy starts a proxy to target that can reset every connection at
// once, as a network failure would; it closes when the test ends.
func newProxy(t testing.TB, target string) *netfault.Proxy {
	t.Helper()
	p, err := netfault.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

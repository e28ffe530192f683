//go:build !js

package mqttgame_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/internal/mosquitto"
	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// restartableBroker is an embedded broker that keeps its sessions, queued
// messages and retained messages on disk, so it can be stopped and started
// again on the same address as a real broker restart.
type restartableBroker struct {
	t     testing.TB
	addr  string
	dir   string
	hooks []mqtt.Hook
	b     *broker.Broker
	srv   *mqtt.Server // b's mochi-mqtt server, for its counters
	log   *slog.Logger

	dropped, inflightDropped int64 // mochi's drop counters of the runs before this one
}

// drops returns mochi's counts of messages it dropped, over every run.
func (r *restartableBroker) drops() (messages, inflight int64) {
	m, i := r.dropped, r.inflightDropped
	if r.b != nil {
		info := r.srv.Info
		m += atomic.LoadInt64(&info.MessagesDropped)
		i += atomic.LoadInt64(&info.InflightDropped)
	}
	return m, i
}

func startRestartable(t testing.TB, hooks ...mqtt.Hook) *restartableBroker {
	t.Helper()
	r := &restartableBroker{t: t, addr: "127.0.0.1:0", dir: t.TempDir(), hooks: hooks, log: testLoggerAt(t, slog.LevelInfo)}
	if err := r.start(); err != nil {
		t.Fatal(err)
	}
	r.addr = r.b.Addr().String()
	t.Cleanup(func() {
		if r.b != nil {
			r.b.Close()
		}
	})
	return r
}

func (r *restartableBroker) start() error {
	b, err := broker.Start(&broker.Options{Addr: r.addr, DataDir: r.dir, KeepSessions: true, Mochi: func(s *mqtt.Server) []mqtt.Hook { r.srv = s; return r.hooks }, Logger: r.log})
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	r.b = b
	return nil
}

// restart stops the broker, dropping every connection, and starts it
// again on the same address. While it is down, a connection of another
// test may take the freed port as its local one, as it may under any
// restarted server: the start is tried again until a deadline.
func (r *restartableBroker) restart() error {
	r.b.Close()
	r.dropped, r.inflightDropped = r.drops()
	r.b = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.start()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tally is a broker hook that counts, per topic and payload, the messages
// the broker accepted from publishers and passed on: loss is counted
// against what the broker received, not against what a client believes.
type tally struct {
	mqtt.HookBase
	mu     sync.Mutex
	count  map[string]int
	unique int                 // distinct messages; a resent one counts once
	sent   map[string][]string // each message's sends to subscribers: when, packet identifier, DUP
	byID   map[uint16][]string // what went out under each packet identifier, in order
	start  time.Time
}

func newTally() *tally {
	return &tally{count: map[string]int{}, sent: map[string][]string{}, byID: map[uint16][]string{}, start: time.Now()}
}

func (h *tally) ID() string { return "test-tally" }
func (h *tally) Provides(b byte) bool {
	return b == mqtt.OnPublished || b == mqtt.OnPacketSent
}

// OnPacketSent records each QoS 2 message written to a subscriber, so a
// failure can tell the broker's resends from the client's mistakes.
func (h *tally) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	at := time.Since(h.start).Seconds()
	switch {
	case pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 2:
		h.mu.Lock()
		key := pk.TopicName + " " + string(pk.Payload)
		h.sent[key] = append(h.sent[key], fmt.Sprintf("%.3fs id %d dup %v", at, pk.PacketID, pk.FixedHeader.Dup))
		h.byID[pk.PacketID] = append(h.byID[pk.PacketID], fmt.Sprintf("%.3fs %s dup %v", at, pk.Payload, pk.FixedHeader.Dup))
		h.mu.Unlock()
	case pk.FixedHeader.Type == packets.Pubrel:
		h.mu.Lock()
		h.byID[pk.PacketID] = append(h.byID[pk.PacketID], fmt.Sprintf("%.3fs PUBREL to %s", at, cl.ID))
		h.mu.Unlock()
	}
}

// sends returns the broker's sends of QoS 2 message i, and of everything
// else it sent under the same packet identifiers.
func (h *tally) sends(i int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	sends := h.sent[fmt.Sprintf("fault/q2/%d %d", i%faultTopics, i)]
	out := append([]string(nil), sends...)
	ids := map[string]bool{}
	for _, s := range sends {
		_, rest, _ := strings.Cut(s, " id ")
		id, _, _ := strings.Cut(rest, " ")
		if !ids[id] {
			ids[id] = true
			n, _ := strconv.Atoi(id)
			out = append(out, fmt.Sprintf("under id %s: %v", id, h.byID[uint16(n)]))
		}
	}
	return out
}

func (h *tally) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	h.mu.Lock()
	key := pk.TopicName + " " + string(pk.Payload)
	h.count[key]++
	if h.count[key] == 1 {
		h.unique++
	}
	h.mu.Unlock()
}

// received returns how many distinct messages the broker took so far.
func (h *tally) received() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unique
}

// seen returns how many times the broker passed each of n numbered messages
// of a QoS.
func (h *tally) seen(qos, n int) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]int, n)
	for key, c := range h.count {
		topic, payload, _ := strings.Cut(key, " ")
		if !strings.HasPrefix(topic, fmt.Sprintf("fault/q%d/", qos)) {
			continue
		}
		if i, err := strconv.Atoi(payload); err == nil && i < n {
			out[i] += c
		}
	}
	return out
}

// TestFaultsLoseNothing sends 10,000 QoS 1 and 10,000 QoS 2 messages from
// one client of ours to another, through 100 connection resets and 20
// broker restarts: the broker receives every message, the subscriber gets
// every one, QoS 2 exactly once, and QoS 1 duplicates stay within the
// in-flight window of each fault.
// It runs alone: it loads the machine and watches for stalls.
func TestFaultsLoseNothing(t *testing.T) {
	count := newTally()
	rb := startRestartable(t, count)
	runFaults(t, faultTarget{
		addr:     rb.addr,
		restart:  rb.restart,
		received: count.received,
		seen:     count.seen,
		sends:    count.sends,
		drops:    rb.drops,
	}, 10_000, 100, 20)
}

// TestFaultsLoseNothingMosquitto runs the same through Debian's mosquitto,
// keeping its state on disk and restarted by SIGTERM (it saves as it
// stops). Loss is counted at the subscriber, which gets every message
// the broker passes on.
// It runs alone: it loads the machine and watches for stalls.
func TestFaultsLoseNothingMosquitto(t *testing.T) {
	b, err := mosquitto.Start(&mosquitto.Options{Persist: true, Config: []string{
		"max_queued_messages 0", // a subscriber away during a restart misses nothing
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	runFaults(t, faultTarget{
		addr:    b.WSAddr(),
		restart: func() error { return b.Restart(false) },
	}, 3_000, 30, 6)
}

// faultTarget is a broker the fault scenario runs through.
type faultTarget struct {
	addr     string                 // its WebSocket listener, behind the faulty proxy
	restart  func() error           // stops it and starts it again on addr
	received func() int             // distinct messages it took from publishers so far; nil: use the subscriber's count
	seen     func(qos, n int) []int // how many times it passed on each message; nil: not known
	sends    func(i int) []string   // its sends of QoS 2 message i to subscribers; nil: not known
	drops    func() (int64, int64)  // messages and in-flight messages it dropped; nil: not known
}

// faultTopics is how many topics of each QoS the fault scenario uses: the
// subscriber sees one message per topic per tick.
const faultTopics = 16

// faultLead is how far the fault scenario's publisher may get ahead of
// its subscriber, in messages. A broker holds a subscriber's messages
// until they are acknowledged, up to a limit, and drops what comes past it
// as it should (mochi: 8,192 by default, "client store quota reached"):
// on a busy machine, reconnecting after every fault, the subscriber fell
// that far behind a publisher that only the broker held back, and the run
// counted the broker's drops as losses. The lead keeps the broker's hold
// far under its limit.
const faultLead = 2048

// runFaults sends perQoS QoS 1 and perQoS QoS 2 messages from one client
// of ours to another through target, with resets of the connections and
// restarts of the broker spread over the run.
func runFaults(t *testing.T, target faultTarget, perQoS, resets, restarts int) {
	// What the run finds is said again after the clients' logs, which
	// the test prints when it fails: the end of a long output shows it.
	var found verdict
	t.Cleanup(func() {
		if t.Failed() {
			t.Log("the fault run found:\n" + found.String())
		}
	})
	errorf := func(format string, args ...any) { t.Error(found.add(format, args...)) }
	fatalf := func(format string, args ...any) { t.Fatal(found.add(format, args...)) }
	logf := func(format string, args ...any) { t.Log(found.add(format, args...)) }
	proxy, err := netfault.New(target.addr)
	if err != nil {
		fatalf("%v", err)
	}
	defer proxy.Close()
	url := "ws://" + proxy.Addr() + "/mqtt"
	persistent := func(id string) func(*mqttgame.Options) {
		return func(o *mqttgame.Options) {
			o.ClientID = id
			o.SessionExpiry = time.Hour
			o.ResumeSession = true
			// Every fault ends a connection that was not stable yet, which
			// backs the clients off; the run measures loss, not that wait.
			o.ReconnectDelay = 20 * time.Millisecond
			o.MaxReconnectDelay = 50 * time.Millisecond
			o.TopicQueueSize = 4096
			o.DataLoss = mqttgame.FIFO
			// Debug lines for 20,000 messages cost more than the test.
			o.Logger = testLoggerAt(t, slog.LevelInfo)
		}
	}
	pub := newClient(t, url, persistent("fault-pub"))
	sub := newClient(t, url, persistent("fault-sub"))
	connect(t, sub)
	subscribe(t, sub, "fault/#", mqttgame.SubscribeOptions{QoS: 2})
	connect(t, pub)

	// The subscriber's game loop, on its own goroutine.
	// got is the subscriber goroutine's until subDone is closed.
	got := [3][]int{nil, make([]int, perQoS), make([]int, perQoS)}
	var subUnique atomic.Int64
	progress := target.received
	if progress == nil {
		progress = func() int { return int(subUnique.Load()) }
	}
	var subErr error
	stopSub := make(chan struct{})
	subDone := make(chan struct{})
	var stopSubOnce sync.Once
	endSub := func() {
		stopSubOnce.Do(func() { close(stopSub) })
		<-subDone
	}
	complete := make(chan struct{})
	go func() {
		defer close(subDone)
		var msgs []mqttgame.Message
		unique := 0
		defer func() { subUnique.Store(int64(unique)) }()
		for {
			sub.Update()
			msgs = sub.AppendMessages(msgs[:0], "fault/#")
			for _, m := range msgs {
				qos := int(m.Topic[len("fault/q")] - '0')
				i, err := strconv.Atoi(m.Text())
				if err != nil || i >= perQoS || (qos != 1 && qos != 2) {
					subErr = fmt.Errorf("unexpected message %s %q", m.Topic, m.Payload)
					continue
				}
				got[qos][i]++
				if got[qos][i] == 1 {
					unique++
					subUnique.Store(int64(unique))
					if unique == 2*perQoS {
						close(complete)
					}
				}
			}
			select {
			case <-stopSub:
				return
			default:
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()

	// The faults, spread over the run as the broker receives messages.
	faultsDone := make(chan struct{})
	var faultLog []string      // the fault goroutine's until faultsDone is closed
	var faultsRun atomic.Int64 // len(faultLog), for the publisher's messages
	var faultFailed atomic.Bool
	stopFaults := make(chan struct{})
	// A run that fails ends its goroutines before the broker and the
	// clients go: a restart must not race the broker's cleanup.
	t.Cleanup(func() {
		close(stopFaults)
		<-faultsDone
		endSub()
	})
	go func() {
		defer close(faultsDone)
		total := 2 * perQoS
		faults := resets + restarts
		for i := range faults {
			due := (i + 1) * total / (faults + 1)
			for progress() < due {
				select {
				case <-stopFaults:
					return
				case <-time.After(time.Millisecond):
				}
			}
			if i%(faults/restarts) == faults/restarts-1 {
				if err := target.restart(); err != nil {
					errorf("restart after %d faults: %v", len(faultLog), err)
					faultFailed.Store(true)
					return
				}
				faultLog = append(faultLog, "restart")
				faultsRun.Add(1)
			} else {
				proxy.Reset()
				faultLog = append(faultLog, "reset")
				faultsRun.Add(1)
			}
		}
	}()

	// The publisher's game loop: publish as fast as the outbox allows. On
	// a machine busy with other work the run takes many minutes: it fails
	// only when the broker stops acknowledging (see watchdog).
	failed := 0
	acked := newWatchdog()
	stuck := func(what string, args ...any) {
		st := pub.Stats()
		dumpGoroutines(t, "fault-stall-goroutines.txt")
		fatalf("%s: nothing acknowledged for %v (%d queued, %d in flight, %d delivered) after %d faults",
			fmt.Sprintf(what, args...), stallLimit, st.Queued, st.InFlight, st.Delivered, faultsRun.Load())
	}
	subMoved := newWatchdog()
	for i := range perQoS {
		// The publisher stays at most faultLead messages ahead of the
		// subscriber (see faultLead).
		for {
			seen := subUnique.Load()
			if 2*i-int(seen) <= faultLead {
				break
			}
			if faultFailed.Load() {
				t.FailNow()
			}
			if subMoved.stuck(uint64(seen)) {
				dumpGoroutines(t, "fault-stall-goroutines.txt")
				fatalf("message %d: the subscriber got no new message for %v, %d behind the publisher, after %d faults",
					i, stallLimit, 2*i-int(seen), faultsRun.Load())
			}
			update(pub)
			time.Sleep(time.Millisecond)
		}
		for _, qos := range []mqttgame.QoS{1, 2} {
			topic := fmt.Sprintf("fault/q%d/%d", qos, i%faultTopics)
			for {
				_, err := pub.PublishString(topic, strconv.Itoa(i), qos, false)
				if err == nil {
					break
				}
				if !errors.Is(err, mqttgame.ErrOutboxFull) {
					fatalf("publish: %v", err)
				}
				if faultFailed.Load() {
					t.FailNow()
				}
				if acked.stuck(pub.Stats().Delivered) {
					stuck("message %d: the outbox stayed full", i)
				}
				update(pub)
				time.Sleep(time.Millisecond)
			}
		}
		if i%64 == 0 {
			update(pub)
		}
	}
	for {
		update(pub)
		st := pub.Stats()
		if st.Queued == 0 && st.InFlight == 0 {
			break
		}
		if acked.stuck(st.Delivered) {
			stuck("the publisher's last messages")
		}
		time.Sleep(time.Millisecond)
	}
	<-faultsDone
	for got := newWatchdog(); ; {
		select {
		case <-complete:
		case <-time.After(10 * time.Millisecond):
			if !got.stuck(uint64(subUnique.Load())) {
				continue
			}
			errorf("the subscriber got no new message for %v, %d of %d in all", stallLimit, subUnique.Load(), 2*perQoS)
		}
		break // complete, or stuck
	}
	endSub()
	if subErr != nil {
		fatalf("%v", subErr)
	}
	for _, e := range eventsOf(pub) {
		if e.Kind == mqttgame.EventPublishFailed {
			failed++
			if failed < 5 {
				errorf("publish failed: %v", e)
			}
		}
	}
	if failed > 0 {
		errorf("%d publishes failed", failed)
	}

	// Loss and duplicates, at the broker and at the subscriber.
	window := 1024 + 128 // the broker's receive maximum, and ours
	faults := len(faultLog)
	for _, qos := range []int{1, 2} {
		atBroker := got[qos] // without a count from the broker, the subscriber's
		if target.seen != nil {
			atBroker = target.seen(qos, perQoS)
		}
		lostBroker, dupBroker := lossAndDups(atBroker)
		lostSub, dupSub := lossAndDups(got[qos])
		logf("QoS %d through %d faults: broker lost %d duplicated %d; subscriber lost %d duplicated %d",
			qos, faults, lostBroker, dupBroker, lostSub, dupSub)
		if lostBroker != 0 || lostSub != 0 {
			errorf("QoS %d: lost %d at the broker (first: %v), %d at the subscriber (first: %v)", qos, lostBroker, missing(atBroker), lostSub, missing(got[qos]))
		}
		if qos == 2 && (dupBroker != 0 || dupSub != 0) {
			errorf("QoS 2: duplicated %d at the broker (first: %v), %d at the subscriber (first: %v)", dupBroker, repeated(atBroker), dupSub, repeated(got[qos]))
		}
		if qos == 2 && target.sends != nil {
			for _, i := range append(missing(got[qos]), repeated(got[qos])...) {
				logf("QoS 2 message %d: seen %d times by the subscriber; the broker sent it: %v", i, got[qos][i], target.sends(i))
			}
		}
		if qos == 1 && (dupBroker > faults*window || dupSub > faults*window) {
			errorf("QoS 1: %d and %d duplicates, over %d faults × %d in flight", dupBroker, dupSub, faults, window)
		}
	}
	if target.drops != nil {
		if m, i := target.drops(); m != 0 || i != 0 {
			errorf("the broker dropped %d messages and %d in flight", m, i)
		}
	}
	if faults != resets+restarts {
		errorf("ran %d faults, want %d", faults, resets+restarts)
	}
}

// stallLimit is how long the fault run may go without progress before it
// counts as stuck. A busy machine slows the run down but never stops it:
// TestFaultsLoseNothing took 3.6 minutes beside one other test run and 9.5
// beside several (load average 15 to 20 on 2 CPUs), where the embedded
// broker, which writes every QoS 1 and 2 message's state to its database,
// read about 35 messages a second; it acknowledged something every few
// seconds all the same.
const stallLimit = 2 * time.Minute

// watchdog tells a run that is slow from one that is stuck: it reports
// stuck once its count has not grown for stallLimit.
type watchdog struct {
	last  uint64
	since time.Time
}

func newWatchdog() *watchdog { return &watchdog{since: time.Now()} }

func (w *watchdog) stuck(n uint64) bool {
	if n != w.last {
		w.last, w.since = n, time.Now()
		return false
	}
	return time.Since(w.since) > stallLimit
}

// dumpGoroutines saves every goroutine's stack, for a run found stuck: in
// the run's artifacts folder (MQTTGAME_ARTIFACTS) if there is one, else in
// the test's log.
func dumpGoroutines(t testing.TB, name string) {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	if dir := os.Getenv("MQTTGAME_ARTIFACTS"); dir != "" {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err == nil {
			t.Logf("goroutines: %s", path)
			return
		}
	}
	t.Logf("goroutines:\n%s", b.String())
}

// missing returns the first numbers never seen.
func missing(seen []int) []int {
	var out []int
	for i, c := range seen {
		if c == 0 && len(out) < 10 {
			out = append(out, i)
		}
	}
	return out
}

// repeated returns the first numbers seen more than once.
func repeated(seen []int) []int {
	var out []int
	for i, c := range seen {
		if c > 1 && len(out) < 10 {
			out = append(out, i)
		}
	}
	return out
}

// lossAndDups counts the numbers never seen and the extra copies.
func lossAndDups(seen []int) (lost, dups int) {
	for _, c := range seen {
		if c == 0 {
			lost++
		} else {
			dups += c - 1
		}
	}
	return lost, dups
}

// verdict collects what a run found, safe for concurrent use.
type verdict struct {
	mu    sync.Mutex
	lines []string
}

// add records a finding and returns it.
func (v *verdict) add(format string, args ...any) string {
	s := fmt.Sprintf(format, args...)
	v.mu.Lock()
	v.lines = append(v.lines, s)
	v.mu.Unlock()
	return s
}

func (v *verdict) String() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.lines, "\n")
}

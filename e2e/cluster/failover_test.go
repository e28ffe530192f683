package cluster

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// failoverCases are the rows of the table that TestFailover fills.
var failoverCases = []string{"failover", "failover_session_kept", "qos1_in_flight_at_kill", "will_of_killed_node"}

// failoverBound is how long a client given both nodes' URLs may take,
// after node A dies, to be connected to B with every subscription back.
const failoverBound = 5 * time.Second

// failoverFilters are what the client on A subscribes to.
var failoverFilters = []string{"a", "b/+", "c/#"}

// TestFailover kills node A of each bed under clients given both nodes'
// URLs, one per transport, while each streams QoS 1 messages to a client
// on B. It runs after TestCluster: the bed it kills is its own.
func TestFailover(t *testing.T) {
	for _, name := range bedNames {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := spend(t, name)
			t.Cleanup(b.close)
			var runs []*failoverRun
			for _, tr := range transportNames {
				runs = append(runs, newFailoverRun(t, name, tr, b))
			}
			for _, r := range runs {
				r.setUp()
			}
			failover(t, b, runs)
		})
	}
}

// failoverRun is one transport's side of a failover: f on A (then B), s
// and p on B.
type failoverRun struct {
	envs       map[string]*env // by case
	e          *env
	f, s, p    *peer
	sent       int
	atKill     mqttgame.Stats // f's, the last tick before the kill
	killed     time.Time
	back       time.Duration        // kill to connected on B with every subscription
	sentBefore uint64               // f's writes before the stream
	ids        []mqttgame.PublishID // f's stream, by sequence number
	k          *peer                // like f, but asks the broker to keep its session
	backK      time.Duration        // kill to k connected on B with every subscription
}

func newFailoverRun(t *testing.T, bedName, tr string, b bed) *failoverRun {
	r := &failoverRun{envs: map[string]*env{}}
	for _, c := range failoverCases {
		r.envs[c] = newEnv(t, results.Start(t, casematrix.Cell{Case: c, Target: bedName, Transport: tr}), b)
	}
	r.e = newEnv(t, results.Case(casematrix.Cell{Case: "failover", Target: bedName, Transport: tr}), b)
	return r
}

func (r *failoverRun) setUp() {
	e := r.e
	r.f = e.clientAt([]string{e.bed.url(0, e.transport), e.bed.url(1, e.transport)}, "f", func(o *mqttgame.Options) {
		o.Will = &mqttgame.Will{Topic: e.topic("will"), Payload: []byte("gone"), QoS: 1}
		o.KeepAlive = 2 * time.Second
	})
	r.k = e.clientAt([]string{e.bed.url(0, e.transport), e.bed.url(1, e.transport)}, "k", func(o *mqttgame.Options) {
		o.SessionExpiry = time.Minute
		o.KeepAlive = 2 * time.Second
	})
	r.s = e.client(1, "s", nil)
	r.p = e.client(1, "p", nil)
	e.Connect(r.f, r.k, r.s, r.p)
	for _, f := range failoverFilters {
		e.subscribe(r.f, e.topic(f), 1)
		e.subscribe(r.k, e.topic(f), 1)
	}
	e.subscribe(r.s, e.topic("stream"), 1)
	e.subscribe(r.s, e.topic("will"), 1)
	e.ready(r.f, r.s, e.topic("stream"))
	e.ready(r.p, r.f, e.topic("a"))
}

func (r *failoverRun) peers() []*peer { return []*peer{r.f, r.k, r.s, r.p} }

// stream publishes the next QoS 1 message of f's stream.
func (r *failoverRun) stream() {
	r.ids = append(r.ids, r.e.publish(r.f, r.e.topic("stream"), strconv.Itoa(r.sent), 1, false))
	r.sent++
}

// ackedBefore reports whether the broker acknowledged f's publish id
// before t.
func (r *failoverRun) ackedBefore(id mqttgame.PublishID, t time.Time) bool {
	for i, ev := range r.f.Events {
		if ev.Kind == mqttgame.EventDelivered && ev.ID == id {
			return r.f.Times[i].Before(t)
		}
	}
	return false
}

func failover(t *testing.T, b bed, runs []*failoverRun) {
	tick := func() {
		for _, r := range runs {
			for _, p := range r.peers() {
				p.Tick()
			}
		}
	}
	// Half a second of streaming, a message every 5 ms, then the kill in
	// the middle of it.
	for _, r := range runs {
		r.sentBefore = r.f.Stats().Sent
	}
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
		for _, r := range runs {
			r.stream()
		}
		tick()
		time.Sleep(5 * time.Millisecond)
	}
	// A burst right before the kill, so that some messages are in flight
	// or queued when node A dies.
	for range 100 {
		for _, r := range runs {
			r.stream()
		}
	}
	tick()
	for _, r := range runs {
		r.atKill = r.f.Stats()
	}
	killed := time.Now()
	b.kill(0)
	for _, r := range runs {
		r.killed = killed
	}

	// Keep streaming until every f is back on B with its subscriptions.
	deadline := killed.Add(failoverBound + waitFor)
	for {
		for _, r := range runs {
			r.stream()
		}
		tick()
		done := true
		for _, r := range runs {
			if r.back == 0 && r.isBack(r.f) {
				r.back = time.Since(killed)
			}
			if r.backK == 0 && r.isBack(r.k) {
				r.backK = time.Since(killed)
			}
			done = done && r.back != 0 && r.backK != 0
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			for _, r := range runs {
				t.Logf("%s: back=%v events=%v", r.e.transport, r.back, r.f.Events)
				t.Logf("%s: k back=%v events=%v", r.e.transport, r.backK, r.k.Events)
			}
			t.Fatalf("not every client was back on B with its subscriptions within %v", failoverBound+waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		for _, r := range runs {
			r.stream()
		}
		tick()
		time.Sleep(5 * time.Millisecond)
	}

	for _, r := range runs {
		r.checkFailover()
		r.checkSessionKept()
		r.checkInFlight()
	}
	// The will: none may come, and none does; wait for it as long as
	// a will would take to be noticed and sent.
	for end := killed.Add(5 * time.Second); time.Now().Before(end); {
		tick()
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range runs {
		r.checkWill()
	}
}

// isBack reports whether p is connected to B and every subscription was
// granted again since the kill.
func (r *failoverRun) isBack(p *peer) bool {
	if !p.IsConnected() {
		return false
	}
	onB := false
	granted := map[string]bool{}
	for i, ev := range p.Events {
		if p.Times[i].Before(r.killed) {
			continue
		}
		switch ev.Kind {
		case mqttgame.EventConnected:
			onB = ev.URL == r.e.bed.url(1, r.e.transport)
		case mqttgame.EventSubscribed:
			granted[ev.Topic] = true
		}
	}
	for _, f := range failoverFilters {
		if !granted[r.e.topic(f)] {
			return false
		}
	}
	return onB
}

// checkFailover: f came back within the bound and gets what B's clients
// publish to each of its filters.
func (r *failoverRun) checkFailover() {
	e := r.envs["failover"]
	e.Logf("connected to B with %d subscriptions back %v after the kill", len(failoverFilters), r.back.Round(time.Millisecond))
	results.Note(fmt.Sprintf("%s %s: connected to B with every subscription back %v after node A was killed", e.bedName, e.transport, r.back.Round(time.Millisecond)))
	if r.back > failoverBound {
		e.Errorf("back after %v, over the %v bound", r.back, failoverBound)
	}
	topic := r.e.topic
	for _, t := range []string{"a", "b/x", "c/d/e"} {
		r.e.publish(r.p, topic(t), "after", 1, false)
	}
	e.Until("f receiving on each filter from B", func() bool {
		return len(r.f.Payloads(topic("a"))) > 0 && slices.Contains(r.f.Payloads(topic("b/+")), "after") && slices.Contains(r.f.Payloads(topic("c/#")), "after")
	}, r.peers()...)
}

// checkSessionKept: k, whose session died with node A, is back on B
// within the bound, and gets what B's clients publish to each filter.
func (r *failoverRun) checkSessionKept() {
	e := r.envs["failover_session_kept"]
	ev, _ := r.k.Last(mqttgame.EventConnected)
	e.Logf("k: connected to B (session present %v) with %d subscriptions back %v after the kill", ev.SessionPresent, len(failoverFilters), r.backK.Round(time.Millisecond))
	results.Note(fmt.Sprintf("%s %s: with a session kept, connected to B (session present %v) with every subscription back %v after node A was killed", e.bedName, e.transport, ev.SessionPresent, r.backK.Round(time.Millisecond)))
	if r.backK > failoverBound {
		e.Errorf("back after %v, over the %v bound", r.backK, failoverBound)
	}
	topic := r.e.topic
	e.Until("k receiving on each filter from B", func() bool {
		return len(r.k.Payloads(topic("a"))) > 0 && slices.Contains(r.k.Payloads(topic("b/+")), "after") && slices.Contains(r.k.Payloads(topic("c/#")), "after")
	}, r.peers()...)
}

// checkInFlight: every QoS 1 message f published reached s on B: those
// in flight at the kill were sent again, to B; duplicates are counted.
func (r *failoverRun) checkInFlight() {
	e := r.envs["qos1_in_flight_at_kill"]
	e.delivered(r.f)
	deadline := time.Now().Add(waitFor)
	stream := r.e.topic("stream")
	for len(distinct(r.s.Payloads(stream))) < r.sent && time.Now().Before(deadline) {
		for _, p := range r.peers() {
			p.Tick()
		}
		time.Sleep(5 * time.Millisecond)
	}
	got := r.s.Payloads(stream)
	d := distinct(got)
	var missing []int
	for i := range r.sent {
		if !d[strconv.Itoa(i)] {
			missing = append(missing, i)
		}
	}
	// A message the client saw acknowledged is the broker's to deliver:
	// one whose acknowledgement had not come by the kill must reach B.
	var notAcked, ackedByA []int
	for _, i := range missing {
		if r.ackedBefore(r.ids[i], r.killed) {
			ackedByA = append(ackedByA, i)
		} else {
			notAcked = append(notAcked, i)
		}
	}
	if len(notAcked) > 0 {
		e.Errorf("%d of %d messages not acknowledged at the kill never reached B: %v", len(notAcked), r.sent, notAcked)
	}
	if dies := e.Deviates(); len(ackedByA) > 0 && !dies {
		e.Errorf("%d of %d messages node A acknowledged before it died never reached B: %v", len(ackedByA), r.sent, ackedByA)
	}
	resent := int(r.f.Stats().Sent-r.sentBefore) - r.sent
	line := fmt.Sprintf("%s %s: %d QoS 1 messages streamed, %d in flight and %d queued at the kill; %d written again after it; %d lost (each acknowledged by A before the kill), %d received twice", e.bedName, e.transport, r.sent, r.atKill.InFlight, r.atKill.Queued, resent, len(missing), len(got)-len(d))
	e.Log(line)
	results.Note(line)
	if r.atKill.InFlight+r.atKill.Queued == 0 {
		e.Errorf("no message was in flight or queued at the kill: the case proved nothing")
	}
}

// checkWill: the will of f, whose node was killed, is never published.
func (r *failoverRun) checkWill() {
	e := r.envs["will_of_killed_node"]
	if !e.Deviates() {
		e.Fatalf("no deviation declared")
	}
	if got := r.s.Payloads(r.e.topic("will")); len(got) != 0 {
		e.Errorf("B published f's will %v after all: remove the deviation", got)
	}
}

func distinct(s []string) map[string]bool {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	return m
}

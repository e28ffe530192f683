package cluster

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// caseDef is one case of the table: a client on node A, another on node
// B, doing one thing that must work across the two.
type caseDef struct {
	name string
	run  func(e *env)
}

var cases = []caseDef{
	{"qos0_burst", func(e *env) { burst(e, 0) }},
	{"qos1_burst", func(e *env) { burst(e, 1) }},
	{"qos2_burst", func(e *env) { burst(e, 2) }},
	{"wildcards", wildcards},
	{"retained", retained},
	{"shared_subscription", sharedSubscription},
	{"will", func(e *env) { will(e, 0) }},
	{"will_delay", func(e *env) { will(e, 2*time.Second) }},
	{"will_delay_back_on_b", willDelayBackOnB},
	{"session_resumed", sessionResumed},
	{"takeover", takeover},
}

// TestCluster runs every case on every bed over every transport, as
// TestCluster/<bed>/<transport>/<case>, in parallel: each case has its
// own topics and client IDs.
func TestCluster(t *testing.T) {
	byName := map[string]caseDef{}
	var names []string
	for _, c := range cases {
		byName[c.name] = c
		names = append(names, c.name)
	}
	table.Each(t, names, func(t *testing.T, cell casematrix.Cell) {
		bd := getBed(t, cell.Target)
		e := newEnv(t, results.Start(t, cell), bd)
		t.Cleanup(func() { bd.check(t) })
		byName[cell.Case].run(e)
	})
}

// burstSize is how many messages each side sends in a burst.
const burstSize = 200

// burst: a on A and b on B each send the other burstSize messages at
// once, at qos; each arrives once, in order.
func burst(e *env, qos mqttgame.QoS) {
	a := e.client(0, "a", nil)
	b := e.client(1, "b", nil)
	e.Connect(a, b)
	toA, toB := e.topic("to-a"), e.topic("to-b")
	e.subscribe(a, toA, qos)
	e.subscribe(b, toB, qos)
	e.ready(a, b, toB)
	e.ready(b, a, toA)
	var want []string
	for i := range burstSize {
		s := strconv.Itoa(i)
		want = append(want, s)
		e.publish(a, toB, s, qos, false)
		e.publish(b, toA, s, qos, false)
	}
	e.Until("both bursts", func() bool {
		return len(a.Payloads(toA)) >= burstSize && len(b.Payloads(toB)) >= burstSize
	}, a, b)
	e.delivered(a)
	e.delivered(b)
	e.Idle(300*time.Millisecond, a, b) // room for a duplicate to show
	for _, p := range []*peer{a, b} {
		got := p.Payloads(map[*peer]string{a: toA, b: toB}[p])
		if !slices.Equal(got, want) {
			e.Errorf("%s received %d messages, want 0..%d in order, once each: %v", p.Name, len(got), burstSize-1, got)
		}
	}
}

// wildcards: b on B subscribes with + and #; what a publishes on A
// reaches b where a filter matches, and only there.
func wildcards(e *env) {
	a := e.client(0, "a", nil)
	b := e.client(1, "b", nil)
	e.Connect(a, b)
	e.subscribe(b, e.topic("+/score"), 1)
	e.subscribe(b, e.topic("room/#"), 1)
	e.ready(a, b, e.topic("probe/score"))
	e.ready(a, b, e.topic("room/probe"))
	for _, m := range [][2]string{{"ann/score", "s1"}, {"room", "r0"}, {"room/chat/x", "r1"}, {"ann/pos", "no"}, {"ann/score/x", "no"}} {
		e.publish(a, e.topic(m[0]), m[1], 1, false)
	}
	e.publish(a, e.topic("room/end"), "end", 1, false)
	e.Until("the last message", func() bool { return slices.Contains(b.Payloads(e.topic("#")), "end") }, a, b)
	got := b.Payloads(e.topic("#"))
	slices.Sort(got)
	if want := []string{"end", "r0", "r1", "s1"}; !slices.Equal(got, want) {
		e.Errorf("b received %v, want %v", got, want)
	}
}

// retained: a retained message a sets on A is sent to a client that
// subscribes later on A, and on B.
func retained(e *env) {
	a := e.client(0, "a", nil)
	live := e.client(1, "live", nil)
	e.Connect(a, live)
	topic := e.topic("r")
	e.subscribe(live, topic, 1)
	e.ready(a, live, topic)
	e.publish(a, topic, "kept", 1, true)
	e.Until("the message on B", func() bool { return len(live.Payloads(topic)) > 0 }, a, live)
	defer func() {
		e.publish(a, topic, "", 1, true)
		e.delivered(a)
	}()

	onA := e.client(0, "later-a", nil)
	e.Connect(onA)
	e.subscribe(onA, topic, 1)
	e.Until("the retained message on A", func() bool { return len(onA.Payloads(topic)) > 0 }, onA)

	onB := e.client(1, "later-b", nil)
	e.Connect(onB)
	e.subscribe(onB, topic, 1)
	if e.Deviates() {
		e.Idle(time.Second, onB)
		if got := onB.Payloads(topic); len(got) != 0 {
			e.Errorf("B sent %v: it keeps retained messages set on A after all; remove the deviation", got)
		}
		return
	}
	e.Until("the retained message on B", func() bool { return len(onB.Payloads(topic)) > 0 }, onB)
}

// sharedSubscription: g1 on A and g2 on B share a subscription; each
// message a publishes reaches one of them.
func sharedSubscription(e *env) {
	a := e.client(0, "a", nil)
	g1 := e.client(0, "g1", nil)
	g2 := e.client(1, "g2", nil)
	e.Connect(a, g1, g2)
	topic := e.topic("jobs")
	filter := "$share/workers/" + topic
	if e.bedName == "ejabberd" && e.Deviates() {
		// The client refuses it at once: the broker announced none.
		if err := g1.Subscribe(filter, 1); !errors.Is(err, mqttgame.ReasonSharedSubNotSupported) {
			e.Errorf("subscribing to %s on ejabberd: %v; want ReasonSharedSubNotSupported at once (if it granted it, remove the deviation)", filter, err)
		}
		return
	}
	e.subscribe(g1, filter, 1)
	e.subscribe(g2, filter, 1)
	// Probes to the group, one every 20 ticks: wait until each member has
	// had one.
	ticks := 0
	e.Until("both members reached", func() bool {
		if !slices.Contains(g1.Payloads(topic), "p") || !slices.Contains(g2.Payloads(topic), "p") {
			if ticks%20 == 0 {
				e.publish(a, topic, "p", 0, false)
			}
			ticks++
			return false
		}
		return true
	}, a, g1, g2)
	const n = 20
	for i := range n {
		e.publish(a, topic, strconv.Itoa(i), 1, false)
	}
	e.delivered(a)
	jobs := func(p *peer) int {
		k := 0
		for _, s := range p.Payloads(topic) {
			if s != "p" {
				k++
			}
		}
		return k
	}
	count := func() (int, int) { return jobs(g1), jobs(g2) }
	if e.Deviates() {
		e.Until("every message at both members", func() bool { c1, c2 := count(); return c1 >= n && c2 >= n }, g1, g2)
		e.Idle(300*time.Millisecond, g1, g2)
		if c1, c2 := count(); c1 != n || c2 != n {
			e.Errorf("members received %d and %d, want %d each (one group per broker)", c1, c2, n)
		}
		return
	}
	e.Until("every message", func() bool { c1, c2 := count(); return c1+c2 >= n }, g1, g2)
	e.Idle(300*time.Millisecond, g1, g2)
	if c1, c2 := count(); c1+c2 != n {
		e.Errorf("members received %d and %d, want %d in all", c1, c2, n)
	}
}

// will: w on A loses its connection (a reset, and its node cannot be
// reached again); b on B receives its will, after the delay if any.
func will(e *env, delay time.Duration) {
	proxy, err := netfault.New(e.bed.addr(0, e.transport))
	if err != nil {
		e.Fatal(err)
	}
	defer proxy.Close()
	url := "mqtt://" + proxy.Addr()
	if e.transport == "ws" {
		url = "ws://" + proxy.Addr() + "/mqtt"
	}
	topic := e.topic("will")
	w := e.clientAt([]string{url}, "w", func(o *mqttgame.Options) {
		o.Will = &mqttgame.Will{Topic: topic, Payload: []byte("gone"), QoS: 1, Delay: delay}
		if delay > 0 {
			o.SessionExpiry = 30 * time.Second
		}
	})
	b := e.client(1, "b", nil)
	e.Connect(w, b)
	e.subscribe(b, topic, 1)
	e.ready(w, b, topic)
	cut := time.Now()
	proxy.Close()
	e.UntilWithin(waitFor+delay, "the will on B", func() bool { return len(b.Payloads(topic)) > 0 }, w, b)
	took := time.Since(cut)
	if got := b.Payloads(topic); !slices.Equal(got, []string{"gone"}) {
		e.Errorf("b received %v, want the will once", got)
	}
	if delay > 0 && took < delay-time.Second/2 {
		e.Errorf("the will came %v after the cut, before its %v delay", took.Round(time.Millisecond), delay)
	}
	e.Logf("the will reached B %v after the cut", took.Round(time.Millisecond))
}

// willDelayBackOnB: w on A, with a will delayed 3 s and its session
// kept, loses its connection and is back within the delay, on B (as a
// reloaded page may land on another node): its will is not published.
func willDelayBackOnB(e *env) {
	proxy, err := netfault.New(e.bed.addr(0, e.transport))
	if err != nil {
		e.Fatal(err)
	}
	defer proxy.Close()
	url := "mqtt://" + proxy.Addr()
	if e.transport == "ws" {
		url = "ws://" + proxy.Addr() + "/mqtt"
	}
	const delay = 3 * time.Second
	topic := e.topic("will")
	w := e.clientAt([]string{url, e.bed.url(1, e.transport)}, "w", func(o *mqttgame.Options) {
		o.Will = &mqttgame.Will{Topic: topic, Payload: []byte("gone"), QoS: 1, Delay: delay}
		o.SessionExpiry = 30 * time.Second
	})
	b := e.client(1, "b", nil)
	e.Connect(w, b)
	e.subscribe(b, topic, 1)
	e.ready(w, b, topic)
	cut := time.Now()
	proxy.Close()
	e.Until("w back on B", func() bool {
		ev, ok := w.Last(mqttgame.EventConnected)
		return ok && ev.URL == e.bed.url(1, e.transport) && w.IsConnected()
	}, w, b)
	if back := time.Since(cut); back > delay-time.Second {
		e.Fatalf("w took %v to come back, too close to its %v will delay for the case to mean anything", back, delay)
	}
	ev, _ := w.Last(mqttgame.EventConnected)
	if e.Deviates() {
		e.UntilWithin(waitFor+delay, "the will, from A", func() bool { return len(b.Payloads(topic)) > 0 }, w, b)
		if took := time.Since(cut); took < delay-time.Second/2 {
			e.Errorf("the will came %v after the cut, before its %v delay", took, delay)
		}
		return
	}
	if !ev.SessionPresent {
		e.Errorf("B did not resume w's session (session present 0)")
	}
	e.Idle(delay+2*time.Second, w, b)
	if got := b.Payloads(topic); len(got) != 0 {
		e.Errorf("the will was published (%v) though w came back within its delay", got)
	}
}

// sessionResumed: s leaves A with its session kept; messages published
// on B meanwhile are queued; s comes back on B and resumes the session.
func sessionResumed(e *env) {
	topic := e.topic("q")
	kept := func(o *mqttgame.Options) { o.SessionExpiry = time.Minute; o.ClientID = e.id("s") }
	s := e.client(0, "s", kept)
	p := e.client(1, "p", nil)
	e.Connect(s, p)
	e.subscribe(s, topic, 1)
	e.ready(p, s, topic)
	e.Disconnect(s)
	var want []string
	for i := range 5 {
		want = append(want, "m"+strconv.Itoa(i))
		e.publish(p, topic, want[i], 1, false)
	}
	e.delivered(p)
	e.Idle(200*time.Millisecond, p) // the messages reach A's session

	back := e.client(1, "s-back", func(o *mqttgame.Options) { kept(o); o.ResumeSession = true })
	e.Connect(back)
	ev, _ := back.Last(mqttgame.EventConnected)
	if e.Deviates() {
		if ev.SessionPresent {
			e.Errorf("B resumed the session A kept: remove the deviation")
		}
		e.Idle(time.Second, back)
		if got := back.Payloads(topic); len(got) != 0 {
			e.Errorf("B sent %v from a session it does not have", got)
		}
		return
	}
	if !ev.SessionPresent {
		e.Fatalf("B did not resume the session (session present 0)")
	}
	e.Until("the queued messages", func() bool { return len(back.Payloads(topic)) >= len(want) }, back)
	e.Idle(300*time.Millisecond, back)
	if got := back.Payloads(topic); !slices.Equal(got, want) {
		e.Errorf("the resumed session delivered %v, want %v", got, want)
	}
}

// takeover: x is connected on A; y connects on B with the same client
// ID. One of them is told 0x8E (session taken over), y as MQTT says, and
// does not fight back.
func takeover(e *env) {
	id := func(o *mqttgame.Options) { o.ClientID = e.id("k") }
	x := e.client(0, "x", id)
	y := e.client(1, "y", id)
	e.Connect(x)
	e.Connect(y)
	pushed := func() []*peer {
		var out []*peer
		for _, p := range []*peer{x, y} {
			if p.Count(mqttgame.EventConnectionLost, "") > 0 {
				out = append(out, p)
			}
		}
		return out
	}
	if e.bedName == "mosquitto" && e.Deviates() {
		e.Idle(time.Second, x, y)
		if len(pushed()) != 0 || !x.IsConnected() || !y.IsConnected() {
			e.Errorf("a connection was pushed off (%v, %v): the bridge takes sessions over after all; remove the deviation", x.Err(), y.Err())
		}
		return
	}
	e.Until("one of them told of the takeover", func() bool { return len(pushed()) > 0 }, x, y)
	off, on := x, y
	if e.Deviates() && pushed()[0] == y {
		off, on = y, x
		e.Logf("ejabberd kept the older session, on A, and pushed the newer off")
	}
	ev, _ := off.Last(mqttgame.EventConnectionLost)
	if !errors.Is(ev.Err, mqttgame.ReasonSessionTakenOver) {
		e.Errorf("%s lost its connection with %v, want %v", off.Name, ev.Err, mqttgame.ReasonSessionTakenOver)
	}
	e.Idle(2*time.Second, x, y)
	if n := off.Count(mqttgame.EventConnected, ""); n != 1 || off.IsConnected() {
		e.Errorf("%s connected %d times and is connected=%v: it fought back", off.Name, n, off.IsConnected())
	}
	if !on.IsConnected() || on.Count(mqttgame.EventConnectionLost, "") != 0 {
		e.Errorf("%s was pushed off too: %v", on.Name, on.Events)
	}
}

package mqttgame

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func testInbox(edit func(*Options)) *inbox {
	o := &Options{Brokers: []string{"ws://localhost/"}}
	if edit != nil {
		edit(o)
	}
	o.ensureDefaults()
	return newInbox(o, nil, nil, 0, nil)
}

func msg(topic, payload string) Message {
	return Message{Topic: topic, Payload: []byte(payload)}
}

// shown returns the payload topic shows after a tick, or "-" if none
// became visible in it.
func shown(in *inbox, topic string) string {
	if !in.onMessage(topic) {
		return "-"
	}
	return bytesString(in.last(topic).Payload)
}

func TestInboxFIFOShowsOnePerTickInOrder(t *testing.T) {
	t.Parallel()
	in := testInbox(func(o *Options) { o.DataLoss = FIFO })
	for i := 1; i <= 5; i++ {
		in.put(msg("chat", fmt.Sprint(i)), 0)
	}
	var got []string
	for range 6 {
		in.update()
		got = append(got, shown(in, "chat"))
	}
	if want := []string{"1", "2", "3", "4", "5", "-"}; !slices.Equal(got, want) {
		t.Fatalf("ticks showed %v, want %v", got, want)
	}
	if last := bytesString(in.last("chat").Payload); last != "5" {
		t.Errorf("last message after the queue emptied = %q, want it to stay \"5\"", last)
	}
	if c := in.counters(); c.replaced+c.queueFull != 0 || c.received != 5 || c.waiting != 0 {
		t.Errorf("counters %+v: want 5 received, none dropped or waiting", c)
	}
}

func TestInboxLatestWinsShowsNewestAndCountsDropped(t *testing.T) {
	t.Parallel()
	in := testInbox(nil) // LatestWins is the default
	for i := 1; i <= 5; i++ {
		in.put(msg("pos", fmt.Sprint(i)), 0)
	}
	in.update()
	if got := shown(in, "pos"); got != "5" {
		t.Fatalf("first tick showed %q, want the 5th message", got)
	}
	if c := in.counters(); c.replaced != 4 {
		t.Errorf("replaced = %d, want 4", c.replaced)
	}
	if d := in.find("pos").dropped; d != 4 {
		t.Errorf("per-topic dropped = %d, want 4", d)
	}
	in.update()
	if in.onMessage("pos") {
		t.Error("second tick showed a message again")
	}
}

func TestInboxTopicsAreIndependent(t *testing.T) {
	t.Parallel()
	in := testInbox(func(o *Options) { o.DataLoss = FIFO })
	in.put(msg("a", "a1"), 0)
	in.put(msg("b", "b1"), 0)
	in.put(msg("a", "a2"), 0)
	in.update()
	if shown(in, "a") != "a1" || shown(in, "b") != "b1" {
		t.Fatalf("tick 1 showed a=%s b=%s, want a1 and b1", shown(in, "a"), shown(in, "b"))
	}
	in.update()
	if shown(in, "a") != "a2" || shown(in, "b") != "-" {
		t.Fatalf("tick 2 showed a=%s b=%s, want a2 and nothing", shown(in, "a"), shown(in, "b"))
	}
}

func TestInboxNothingChangesBetweenTicks(t *testing.T) {
	t.Parallel()
	in := testInbox(nil)
	in.put(msg("t", "old"), 0)
	in.update()
	in.put(msg("t", "new"), 0)
	in.put(msg("other", "x"), 0)
	if got := bytesString(in.last("t").Payload); got != "old" {
		t.Fatalf("before the next tick, last = %q, want \"old\"", got)
	}
	if in.find("other") != nil || in.onMessage("other") {
		t.Fatal("a new topic became visible before the next tick")
	}
	in.update()
	if shown(in, "t") != "new" || shown(in, "other") != "x" {
		t.Fatal("the next tick did not show the new messages")
	}
}

func TestInboxFIFOCapDropsOldestQoS0(t *testing.T) {
	t.Parallel()
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.TopicQueueSize = 3 })
	for i := 1; i <= 5; i++ {
		in.put(msg("q", fmt.Sprint(i)), 0)
	}
	var got []string
	for range 4 {
		in.update()
		got = append(got, shown(in, "q"))
	}
	if want := []string{"3", "4", "5", "-"}; !slices.Equal(got, want) {
		t.Fatalf("ticks showed %v, want %v", got, want)
	}
	if c := in.counters(); c.queueFull != 2 {
		t.Errorf("queueFull = %d, want 2", c.queueFull)
	}
}

// fakeAcker records what the inbox holds and releases.
type fakeAcker struct {
	held, released []ackToken
}

func (f *fakeAcker) hold(t ackToken)        { f.held = append(f.held, t) }
func (f *fakeAcker) release(ts ...ackToken) { f.released = append(f.released, ts...) }

func TestInboxHoldsQoS1WhenFIFOIsFull(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.TopicQueueSize = 2 })
	in.acks = acks
	for i := 1; i <= 5; i++ {
		in.put(msg("chat", fmt.Sprint(i)), ackToken(i))
	}
	if want := []ackToken{3, 4, 5}; !slices.Equal(acks.held, want) {
		t.Fatalf("held %v, want %v", acks.held, want)
	}
	var got []string
	for range 6 {
		in.update()
		got = append(got, shown(in, "chat"))
	}
	if want := []string{"1", "2", "3", "4", "5", "-"}; !slices.Equal(got, want) {
		t.Fatalf("ticks showed %v, want %v: holding must lose nothing and keep order", got, want)
	}
	if want := []ackToken{3, 4, 5}; !slices.Equal(acks.released, want) {
		t.Errorf("released %v, want %v", acks.released, want)
	}
	if c := in.counters(); c.queueFull != 0 || c.held != 3 || c.waitingBytes != 0 {
		t.Errorf("counters %+v: want 3 held, none dropped, nothing waiting", c)
	}
}

func TestInboxDropHeldOnConnectionLoss(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.TopicQueueSize = 1 })
	in.acks = acks
	in.put(msg("chat", "1"), 1)
	in.put(msg("chat", "2"), 2) // held
	in.dropHeld()
	in.update()
	in.update()
	if got := shown(in, "chat"); got != "-" {
		t.Fatalf("a held message was shown after the connection dropped: %q", got)
	}
	if len(acks.released) != 0 {
		t.Errorf("released %v after dropping held messages", acks.released)
	}
	if c := in.counters(); c.waitingBytes != 0 {
		t.Errorf("waitingBytes = %d, want 0", c.waitingBytes)
	}
}

func TestInboxForgetsIdleTopicsPastMaxTopics(t *testing.T) {
	t.Parallel()
	in := testInbox(func(o *Options) { o.MaxTopics = 4 })
	for i := range 4 {
		in.put(msg(fmt.Sprint("t", i), "x"), 0)
	}
	in.update()
	in.pin("t0") // a handle keeps t0 even though it is the oldest
	in.put(msg("t9", "new"), 0)
	in.update()
	if shown(in, "t9") != "new" {
		t.Fatal("the new topic was not shown")
	}
	if in.find("t0") == nil {
		t.Fatal("a pinned topic was forgotten")
	}
	if in.find("t1") != nil {
		t.Fatal("the idlest unpinned topic t1 was not forgotten")
	}
	c := in.counters()
	if c.forgotten != 1 || c.topicLimit != 0 || len(in.boxes) != 4 {
		t.Errorf("forgotten=%d topicLimit=%d topics=%d, want 1, 0, 4", c.forgotten, c.topicLimit, len(in.boxes))
	}
}

func TestInboxDropsWhenEveryTopicIsBusy(t *testing.T) {
	t.Parallel()
	in := testInbox(func(o *Options) { o.MaxTopics = 2 })
	in.put(msg("a", "1"), 0)
	in.put(msg("b", "1"), 0)
	in.put(msg("c", "1"), 0) // a and b wait to be shown: nothing can go
	in.update()
	if in.find("c") != nil {
		t.Fatal("a third topic got in past MaxTopics")
	}
	if c := in.counters(); c.topicLimit != 1 {
		t.Errorf("topicLimit = %d, want 1", c.topicLimit)
	}
}

func TestInboxBytesLimit(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 4000)
	m := msg("a", big)
	// Room for one topic and its message, not for two.
	limit := topicOverhead + allocSize(1) + stagedSize + messageSize(&m) + 100
	in := testInbox(func(o *Options) { o.MaxBufferedBytes = limit })
	in.put(msg("a", big), 0)
	in.put(msg("b", big), 0)
	in.update()
	if shown(in, "a") != big || in.find("b") != nil && in.find("b").has {
		t.Fatal("want a shown and b dropped")
	}
	if c := in.counters(); c.bytesLimit != 1 || c.waitingBytes != 0 {
		t.Errorf("bytesLimit=%d waitingBytes=%d, want 1 and 0", c.bytesLimit, c.waitingBytes)
	}
	// Room again once a, shown and idle, is forgotten: b comes alone,
	// while a's visible message waits for the tick to let go of it.
	in.put(msg("b", big), 0)
	in.update()
	in.put(msg("b", big+"!"), 0)
	in.update()
	if shown(in, "b") != big+"!" {
		t.Fatal("b was not accepted once a had been shown")
	}
	if in.find("a") != nil {
		t.Error("the idle topic a was not forgotten to make room")
	}
}

func TestInboxFilters(t *testing.T) {
	t.Parallel()
	in := testInbox(nil)
	in.put(msg("players/1/pos", "p1"), 0)
	in.put(msg("players/2/pos", "p2"), 0)
	in.put(msg("players/2/name", "bob"), 0)
	in.update()
	got := in.appendShown(nil, "players/+/pos")
	if len(got) != 2 || got[0].Topic != "players/1/pos" || got[1].Topic != "players/2/pos" {
		t.Fatalf("appendShown(players/+/pos) = %v", got)
	}
	if n := len(in.appendShown(nil, "#")); n != 3 {
		t.Errorf("appendShown(#) returned %d messages, want 3", n)
	}
	if !in.onMessage("players/+/name") || in.onMessage("enemies/#") {
		t.Error("onMessage with filters is wrong")
	}
	if m := in.last("players/+/pos"); m == nil || bytesString(m.Payload) != "p2" {
		t.Errorf("last(players/+/pos) = %v, want the newest, p2", m)
	}
	in.put(msg("players/1/pos", "p1b"), 0)
	in.update()
	if m := in.last("players/+/pos"); m == nil || bytesString(m.Payload) != "p1b" {
		t.Errorf("last(players/+/pos) = %v, want p1b", m)
	}
	if in.onMessage("players/2/pos") || !in.onMessage("players/#") {
		t.Error("onMessage after the second tick is wrong")
	}
}

func TestInboxModeRules(t *testing.T) {
	t.Parallel()
	in := testInbox(nil)
	in.setRules([]modeRule{{filter: "chat/#", mode: FIFO}, {filter: "#", mode: LatestWins}})
	for i := 1; i <= 3; i++ {
		in.put(msg("chat/lobby", fmt.Sprint(i)), 0)
		in.put(msg("pos/me", fmt.Sprint(i)), 0)
	}
	in.update()
	if shown(in, "chat/lobby") != "1" || shown(in, "pos/me") != "3" {
		t.Fatalf("chat showed %s (want 1, FIFO), pos showed %s (want 3, latest wins)", shown(in, "chat/lobby"), shown(in, "pos/me"))
	}
	// Changing the rules applies to what arrives next.
	in.setRules(nil)
	in.put(msg("chat/lobby", "4"), 0)
	in.update()
	if shown(in, "chat/lobby") != "4" {
		t.Errorf("after the FIFO rule went, the newest chat message should replace the queue; showed %s", shown(in, "chat/lobby"))
	}
}

func TestInboxOverflowWhenHoldingTooMany(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.TopicQueueSize = 1 })
	in.acks = acks
	in.holdLimit = 4
	var told []bool
	in.overflow = func(on bool) { told = append(told, on) }
	for i := range 6 { // 1 waits, 5 are held: one past the limit
		in.put(msg("q", fmt.Sprint(i)), ackToken(i+1))
	}
	if !slices.Equal(told, []bool{true}) {
		t.Fatalf("overflow told %v, want [true]", told)
	}
	for range 4 {
		in.update()
	}
	if !slices.Equal(told, []bool{true, false}) {
		t.Fatalf("overflow told %v, want [true false] once the game caught up", told)
	}
	c := in.counters()
	if c.received != c.shown+uint64(c.waiting)+uint64(c.holding)+c.replaced+c.queueFull+c.topicLimit+c.bytesLimit {
		t.Fatalf("counts do not add up: %+v", c)
	}
}

// TestInboxHoldsQoS1PastMaxTopics: past MaxTopics, with every topic busy,
// a QoS 1 message is held, not dropped, and shown once a tick has room.
func TestInboxHoldsQoS1PastMaxTopics(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	in := testInbox(func(o *Options) { o.MaxTopics = 4 })
	in.acks = acks
	for i := 1; i <= 10; i++ {
		in.put(msg(fmt.Sprint("score/", i), fmt.Sprint(i)), ackToken(i))
	}
	if c := in.counters(); c.topicLimit != 0 || c.holding != 6 {
		t.Fatalf("counters %+v: want 6 held, none dropped", c)
	}
	seen := map[string]bool{}
	for range 10 {
		in.update()
		for _, m := range in.appendShown(nil, "#") {
			seen[m.Topic] = true
		}
	}
	if len(seen) != 10 {
		t.Fatalf("shown %d of 10 topics", len(seen))
	}
	if want := []ackToken{5, 6, 7, 8, 9, 10}; !slices.Equal(acks.released, want) {
		t.Errorf("released %v, want %v", acks.released, want)
	}
	if c := in.counters(); c.received != c.shown || c.holding != 0 {
		t.Errorf("counters %+v: want every message shown", c)
	}
}

// TestInboxHeldKeepOrder: once a QoS 1 message is held, later ones wait
// behind it, whatever their topic, so none is shown before it: a marker
// published after the scores is never shown before a held score.
func TestInboxHeldKeepOrder(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	in := testInbox(func(o *Options) { o.MaxTopics = 2 })
	in.acks = acks
	in.put(msg("score/a", "a"), 1)
	in.put(msg("score/b", "b"), 2)
	in.put(msg("score/c", "c"), 3) // no topic left: held
	in.put(msg("marker", "m"), 4)  // room is no matter: behind c
	in.put(msg("pos", "p"), 0)     // QoS 0 is never held (and dropped here)
	var order []string
	for range 4 {
		in.update()
		for _, m := range in.appendShown(nil, "#") {
			order = append(order, m.Topic)
		}
	}
	if want := []string{"score/a", "score/b", "score/c", "marker"}; !slices.Equal(order, want) {
		t.Fatalf("shown in the order %v, want %v", order, want)
	}
}

// TestInboxHoldsQoS1PastMaxBufferedBytes: QoS 1 messages over the byte
// limit are held, the inbox asks to stop reading, and all are shown in
// order once ticks make room.
func TestInboxHoldsQoS1PastMaxBufferedBytes(t *testing.T) {
	t.Parallel()
	acks := &fakeAcker{}
	big := strings.Repeat("x", 10_000)
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.MaxBufferedBytes = 25_000 })
	in.acks = acks
	in.holdLimit = 100
	var told []bool
	in.overflow = func(on bool) { told = append(told, on) }
	for i := range 5 {
		in.put(msg("chat", fmt.Sprint(i, big)), ackToken(i+1))
	}
	if c := in.counters(); c.bytesLimit != 0 || c.holding != 3 {
		t.Fatalf("counters %+v: want 3 held, none dropped", c)
	}
	if !slices.Equal(told, []bool{true}) {
		t.Fatalf("overflow told %v, want [true]: held bytes past the limit must stop reading", told)
	}
	var got []string
	for range 6 {
		in.update()
		got = append(got, shown(in, "chat")[:1])
	}
	if want := []string{"0", "1", "2", "3", "4", "-"}; !slices.Equal(got, want) {
		t.Fatalf("ticks showed %v, want %v", got, want)
	}
	if !slices.Equal(told, []bool{true, false}) {
		t.Errorf("overflow told %v, want [true false] once the game caught up", told)
	}
}

// TestInboxCountsEveryByte: names, properties and empty payloads count,
// so a flood of messages with long topics and big properties and no
// payload stops at MaxBufferedBytes.
func TestInboxCountsEveryByte(t *testing.T) {
	t.Parallel()
	const limit = 1 << 20
	in := testInbox(func(o *Options) { o.DataLoss = FIFO; o.MaxBufferedBytes = limit })
	long := strings.Repeat("t", 60_000)
	prop := strings.Repeat("p", 50_000)
	for i := range 100 {
		in.put(Message{Topic: fmt.Sprint(long, i%10)}, 0)
		in.put(Message{Topic: fmt.Sprint("p/", i%10), UserProperties: []UserProperty{{Key: prop, Value: prop}}}, 0)
	}
	c := in.counters()
	if c.bytesLimit == 0 {
		t.Fatalf("counters %+v: 6 MB of names and properties were all kept under a 1 MiB limit", c)
	}
	if c.waitingBytes > limit+200_000 {
		t.Errorf("%d bytes counted, over the limit and one message", c.waitingBytes)
	}
	var real int
	for _, b := range in.boxes {
		for i := range b.n {
			m := &b.q[(b.head+i)%len(b.q)].msg
			real += len(m.Topic)
			for _, p := range m.UserProperties {
				real += len(p.Key) + len(p.Value)
			}
		}
	}
	if real > c.waitingBytes {
		t.Errorf("%d bytes of names and properties waiting, %d counted", real, c.waitingBytes)
	}
}

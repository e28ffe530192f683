package mqttgame

import (
	"fmt"
	"slices"
	"testing"
)

func testInbox(edit func(*Options)) *inbox {
	o := &Options{Brokers: []string{"ws://localhost/"}}
	if edit != nil {
		edit(o)
	}
	o.ensureDefaults()
	return newInbox(o)
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
	in := testInbox(func(o *Options) { o.MaxBufferedBytes = 10 })
	in.put(msg("a", "12345678"), 0)
	in.put(msg("b", "12345678"), 0)
	in.update()
	if shown(in, "a") != "12345678" || in.find("b") == nil || in.find("b").has {
		t.Fatal("want a shown and b dropped")
	}
	if c := in.counters(); c.bytesLimit != 1 || c.waitingBytes != 0 {
		t.Errorf("bytesLimit=%d waitingBytes=%d, want 1 and 0", c.bytesLimit, c.waitingBytes)
	}
	// Room again once shown.
	in.put(msg("b", "12345678"), 0)
	in.update()
	if shown(in, "b") != "12345678" {
		t.Fatal("b was not accepted once a had been shown")
	}
}

func TestInboxFilters(t *testing.T) {
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

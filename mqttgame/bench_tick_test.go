package mqttgame

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// The tick benchmarks measure what a game pays on its own goroutine every
// tick. They need no broker: messages are staged with the inbox's put,
// the function the network goroutines call for every message received,
// so they also run compiled to WebAssembly.

// sinkString and sinkBool keep the compiler from dropping the calls
// measured.
var (
	sinkString string
	sinkBool   bool
)

// tickClient returns a client that is never connected, holding one
// visible message on each of topics topics ("game/0" …).
func tickClient(b *testing.B, topics int, edit func(*Options)) *Client {
	b.Helper()
	o := &Options{Brokers: []string{"ws://127.0.0.1:1/mqtt"}, MaxTopics: max(topics, 1024)}
	if edit != nil {
		edit(o)
	}
	c, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	payload := []byte(`{"x":12.5,"y":-3.25}`)
	for i := range topics {
		c.in.put(Message{Topic: benchTopic(i), Payload: payload}, 0)
	}
	c.Update()
	return c
}

func benchTopic(i int) string { return "game/" + strconv.Itoa(i) }

// BenchmarkLastMessage reads a topic's payload by name, among 100 topics.
func BenchmarkLastMessage(b *testing.B) {
	c := tickClient(b, 100, nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkString = c.LastMessage("game/42")
	}
	if sinkString == "" {
		b.Fatal("LastMessage returned nothing")
	}
}

// BenchmarkOnMessage asks whether a topic got a message this tick, among
// 100 topics.
func BenchmarkOnMessage(b *testing.B) {
	c := tickClient(b, 100, nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = c.OnMessage("game/42")
	}
	if !sinkBool {
		b.Fatal("OnMessage missed the message of this tick")
	}
}

// BenchmarkIsConnected reads the tick's connection state.
func BenchmarkIsConnected(b *testing.B) {
	c := tickClient(b, 100, nil)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = c.IsConnected()
	}
}

// BenchmarkTopicHandle reads a topic through a TopicHandle, with no
// lookup.
func BenchmarkTopicHandle(b *testing.B) {
	c := tickClient(b, 100, nil)
	h, err := c.Topic("game/42")
	if err != nil {
		b.Fatal(err)
	}
	defer h.Release()
	b.Run("LastMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkString = h.LastMessage()
		}
		if sinkString == "" {
			b.Fatal("LastMessage returned nothing")
		}
	})
	b.Run("OnMessage", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = h.OnMessage()
		}
		if !sinkBool {
			b.Fatal("OnMessage missed the message of this tick")
		}
	})
}

// stager puts messages into a client's inbox the way the network
// goroutines do, cycling over a set of topics.
type stager struct {
	c       *Client
	topics  []string
	next    int
	payload []byte
}

func newStager(c *Client, topics int) *stager {
	s := &stager{c: c, payload: []byte(`{"x":12.5,"y":-3.25}`)}
	for i := range topics {
		s.topics = append(s.topics, benchTopic(i))
	}
	return s
}

func (s *stager) stage(n int) {
	for range n {
		s.c.in.put(Message{Topic: s.topics[s.next], Payload: s.payload}, 0)
		s.next++
		if s.next == len(s.topics) {
			s.next = 0
		}
	}
}

// benchTick measures ticks in the steady state: before each tick, perN
// messages arrive over topics topics, on top of a FIFO backlog of backlog
// messages that stays the same size. ns/op covers staging and the tick;
// ns/tick is Update alone, the cost on the game's goroutine. allocs/op
// covers both, so 0 means neither allocates.
func benchTick(b *testing.B, topics, perN, backlog int, mode DataLoss) {
	c := tickClient(b, topics, func(o *Options) { o.DataLoss = mode; o.MaxBufferedBytes = 1 << 30 })
	s := newStager(c, topics)
	s.stage(backlog)
	// Warm up until every ring buffer has its final size.
	for range 3 {
		s.stage(perN)
		c.Update()
	}
	shownBefore := c.Stats().Shown
	var inTick time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.stage(perN)
		t0 := time.Now()
		c.Update()
		inTick += time.Since(t0)
	}
	b.StopTimer()
	shown := c.Stats().Shown - shownBefore
	if want := uint64(b.N * min(topics, perN)); shown != want {
		b.Fatalf("%d messages shown in %d ticks, want %d", shown, b.N, want)
	}
	b.ReportMetric(float64(inTick.Nanoseconds())/float64(b.N), "ns/tick")
	b.ReportMetric(float64(shown)/float64(b.N), "shown/tick")
}

// BenchmarkUpdate is the tick with 1,000 messages pending over 100 topics:
// with LatestWins, 1,000 arrive between ticks and each topic shows its
// newest; with FIFO, 1,000 wait at every tick, each topic shows its
// oldest, and 100 more arrive.
func BenchmarkUpdate(b *testing.B) {
	b.Run("latest-wins", func(b *testing.B) { benchTick(b, 100, 1000, 0, LatestWins) })
	b.Run("fifo", func(b *testing.B) { benchTick(b, 100, 100, 900, FIFO) })
	b.Run("idle", func(b *testing.B) { benchTick(b, 100, 0, 0, LatestWins) })
}

// BenchmarkTickScaling shows how the tick's cost grows: with the messages
// that arrive between two ticks (over 100 topics, LatestWins), and with
// the distinct topics that each show a message in the tick.
func BenchmarkTickScaling(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("messages=%d", n), func(b *testing.B) { benchTick(b, 100, n, 0, LatestWins) })
	}
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) { benchTick(b, n, n, 0, LatestWins) })
	}
}

//go:build !js

package mqttgame_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mosquitto"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestFloodSlowConsumers floods three games with 10,000 messages a second
// for a minute: one calls Update 60 times a second, two never do (hidden
// tabs). The broker runs in its own process, so the heap measured here is
// the clients'. Memory stays within the configured buffers plus a small
// constant, every received message is accounted for (shown, waiting,
// held or dropped, by reason), and QoS 1 messages are never dropped by
// the client: it withholds acknowledgements and the broker stops.
// It runs alone: it bounds the heap.
func TestFloodSlowConsumers(t *testing.T) {
	const (
		duration    = 60 * time.Second
		perSecond   = 10_000
		q1PerSecond = 100
		q0Topics    = 4
		payload     = 100
	)
	b, err := mosquitto.Start(&mosquitto.Options{Config: []string{
		"max_queued_messages 0", // keep every QoS 1 message for the hidden tab
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	caps := func(mode mqttgame.DataLoss) func(*mqttgame.Options) {
		return func(o *mqttgame.Options) {
			o.DataLoss = mode
			o.TopicQueueSize = 64
			o.MaxTopics = 64
			o.MaxBufferedBytes = 1 << 20
			o.Logger = testLoggerAt(t, 0)
		}
	}
	visible := newClient(t, b.TCPURL(), caps(mqttgame.LatestWins))
	hiddenQ0 := newClient(t, b.TCPURL(), caps(mqttgame.FIFO))
	hiddenQ1 := newClient(t, b.TCPURL(), caps(mqttgame.FIFO))
	for _, c := range []*mqttgame.Client{visible, hiddenQ0, hiddenQ1} {
		connect(t, c)
	}
	subscribe(t, visible, "flood/#", mqttgame.SubscribeOptions{QoS: 1})
	subscribe(t, hiddenQ0, "flood/q0/#", mqttgame.SubscribeOptions{QoS: 0})
	subscribe(t, hiddenQ1, "flood/q1/#", mqttgame.SubscribeOptions{QoS: 1})

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	// The visible game's loop, on its own goroutine.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ticks atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		frame := time.NewTicker(time.Second / 60)
		defer frame.Stop()
		for {
			select {
			case <-stop:
				return
			case <-frame.C:
				visible.Update()
				ticks.Add(1)
			}
		}
	}()
	// Heap samples, ten a second.
	var peak atomic.Uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		sample := time.NewTicker(100 * time.Millisecond)
		defer sample.Stop()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-sample.C:
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > peak.Load() {
					peak.Store(m.HeapAlloc)
				}
			}
		}
	}()

	// The flood, from mosquitto_pub processes reading lines: four QoS 0
	// topics and one QoS 1 topic, fed 100 batches a second.
	type feed struct {
		topic string
		qos   int
		in    io.WriteCloser
		cmd   *exec.Cmd
		sent  int
	}
	var feeds []*feed
	for i := range q0Topics {
		feeds = append(feeds, &feed{topic: fmt.Sprintf("flood/q0/%d", i), qos: 0})
	}
	feeds = append(feeds, &feed{topic: "flood/q1/0", qos: 1})
	host, port, _ := net.SplitHostPort(b.TCPAddr())
	for _, f := range feeds {
		f.cmd = exec.Command("mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv5", "-q", strconv.Itoa(f.qos), "-t", f.topic, "-l")
		f.in, err = f.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.cmd.Start(); err != nil {
			t.Fatalf("mosquitto_pub: %v", err)
		}
	}
	body := strings.Repeat("x", payload-8)
	batch := time.NewTicker(10 * time.Millisecond)
	end := time.Now().Add(duration)
	var lines bytes.Buffer
	for time.Now().Before(end) {
		<-batch.C
		for _, f := range feeds {
			n := (perSecond - q1PerSecond) / q0Topics / 100
			if f.qos == 1 {
				n = q1PerSecond / 100
			}
			lines.Reset()
			for range n {
				fmt.Fprintf(&lines, "%08d%s\n", f.sent, body)
				f.sent++
			}
			if _, err := f.in.Write(lines.Bytes()); err != nil {
				t.Fatalf("feeding mosquitto_pub: %v", err)
			}
		}
	}
	batch.Stop()
	var sentQ0, sentQ1 int
	for _, f := range feeds {
		f.in.Close()
		if err := f.cmd.Wait(); err != nil {
			t.Errorf("mosquitto_pub %s: %v", f.topic, err)
		}
		if f.qos == 1 {
			sentQ1 += f.sent
		} else {
			sentQ0 += f.sent
		}
	}
	// The hidden QoS 0 game gets the rest of the flood in flight.
	tickUntil(t, "the last QoS 0 messages", func() bool {
		return hiddenQ0.Stats().Received == uint64(sentQ0)
	}, hiddenQ0)
	close(stop)
	wg.Wait()

	growth := int64(peak.Load()) - int64(base.HeapAlloc)
	// Three clients' buffers and their message records; the constant is
	// paho's and the runtime's own.
	bound := int64(3*(1<<20+64*64*300) + 16<<20)
	t.Logf("flood of %d QoS 0 and %d QoS 1 messages in %v; %d ticks of the visible game; heap grew at most %.1f MiB (bound %.1f MiB)",
		sentQ0, sentQ1, duration, ticks.Load(), float64(growth)/(1<<20), float64(bound)/(1<<20))
	if growth > bound {
		t.Errorf("heap grew %d bytes, over %d", growth, bound)
	}

	// Every message is accounted for.
	for name, c := range map[string]*mqttgame.Client{"visible": visible, "hidden QoS 0": hiddenQ0, "hidden QoS 1": hiddenQ1} {
		c.Update()
		st := c.Stats()
		sum := st.Shown + uint64(st.Waiting) + uint64(st.Unacked) + st.Dropped()
		t.Logf("%s: received %d = shown %d + waiting %d + holding %d + dropped %d (replaced %d, queue full %d, topics %d, bytes %d)",
			name, st.Received, st.Shown, st.Waiting, st.Unacked, st.Dropped(), st.DroppedReplaced, st.DroppedQueueFull, st.DroppedTopicLimit, st.DroppedBytesLimit)
		if st.Received != sum {
			t.Errorf("%s: received %d but shown+waiting+holding+dropped is %d", name, st.Received, sum)
		}
	}
	if st := hiddenQ0.Stats(); st.Received != uint64(sentQ0) {
		t.Errorf("hidden QoS 0 game received %d of %d", st.Received, sentQ0)
	}
	st := hiddenQ1.Stats()
	if st.Dropped() != 0 {
		t.Errorf("the client dropped %d QoS 1 messages", st.Dropped())
	}
	if st.Unacked > 128 {
		t.Errorf("holding %d QoS 1 messages, over the receive maximum 128: the broker did not stop", st.Unacked)
	}

	// The hidden QoS 1 game becomes visible: it gets every message, in order.
	got := int(st.Shown) // shown by the tick that read the counters
	tickUntil(t, "the QoS 1 backlog", func() bool {
		if hiddenQ1.OnMessage("flood/q1/0") {
			n, _ := strconv.Atoi(hiddenQ1.LastMessage("flood/q1/0")[:8])
			if n != got {
				t.Fatalf("got QoS 1 message %d, want %d", n, got)
			}
			got++
		}
		return got == sentQ1
	}, hiddenQ1)
}

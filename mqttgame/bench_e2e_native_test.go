//go:build !js

package mqttgame_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/paho"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

func init() { relayBenchmark = throughputRelay }

// benchBroker starts an embedded broker for one benchmark run and returns
// its WebSocket URL.
func benchBroker(b *testing.B) string {
	return startBroker(b, nil).URL()
}

// benchYield is called by a game loop that has nothing new to show: it
// leaves the CPU to the network goroutines for a moment, as a game does
// between frames. (Go's timers make the moment up to a millisecond.)
func benchYield() { time.Sleep(50 * time.Microsecond) }

// throughputRelay is the ceiling: the same messages, as bare WebSocket
// messages of an MQTT PUBLISH's size, from one coder/websocket
// connection to another through a server that copies each one across,
// as a broker would. No MQTT, no session, no topic matching.
func throughputRelay(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	subs := make(chan *websocket.Conn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if r.URL.Path == "/sub" {
			subs <- c
			<-ctx.Done()
			return
		}
		out := <-subs
		for {
			typ, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := out.Write(ctx, typ, data); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	base := "ws" + strings.TrimPrefix(srv.URL, "http")
	sub, _, err := websocket.Dial(ctx, base+"/sub", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sub.CloseNow()
	pub, _, err := websocket.Dial(ctx, base+"/pub", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.CloseNow()
	// A QoS 0 PUBLISH of benchPayload bytes to a topic like the others.
	msg := make([]byte, 2+2+len(benchName("bench/"))+1+benchPayload)

	got := newArrivals()
	readDone := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for got.n.Load() < int64(b.N) {
			if _, _, err := sub.Read(ctx); err != nil {
				readDone <- err
				return
			}
			got.add()
		}
		readDone <- nil
	}()
	deadline := time.Now().Add(benchWait)
	for sent := 0; sent < b.N; {
		if sent-int(got.n.Load()) >= benchWindow {
			got.wait(b, deadline, "relay")
			continue
		}
		if err := pub.Write(ctx, websocket.MessageBinary, msg); err != nil {
			b.Fatal(err)
		}
		sent++
	}
	if err := <-readDone; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRate(b, b.N)
}

// BenchmarkRoundTrip measures a message's way from Publish to being
// visible, one message at a time, on a client subscribed to its own
// topic: mqttgame over WebSocket (visible after an Update, called in a
// loop as fast as it goes), against
// autopaho over TCP and over WebSocket as shipped (visible in its
// callback). It reports the median and the 99th percentile.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("mqttgame-ws", func(b *testing.B) {
		url := benchBroker(b)
		topic := benchName("rt/")
		c := benchClient(b, url, nil)
		if err := c.Subscribe(topic, mqttgame.AtMostOnce); err != nil {
			b.Fatal(err)
		}
		benchTickUntil(b, "subscribed", func() bool { return c.IsSubscribed(topic) }, c)
		payload := make([]byte, benchPayload)
		roundTrips(b, func() {
			if _, err := c.Publish(topic, payload, mqttgame.AtMostOnce, false); err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), benchWait)
			defer cancel()
			for {
				// Wait, as the baselines wait for their callback: a loop
				// that polls without pause keeps a core from the network
				// goroutines, and one that sleeps measures Go's timers.
				if err := c.Wait(ctx); err != nil {
					b.Fatalf("the message did not come back: %v; %+v", err, c.Stats())
				}
				c.Update()
				if c.OnMessage(topic) {
					return
				}
			}
		})
	})
	for _, transport := range []string{"tcp", "ws"} {
		b.Run("autopaho-"+transport, func(b *testing.B) {
			br := startBroker(b, &broker.Options{TCPAddr: "127.0.0.1:0"})
			url := br.URL()
			if transport == "tcp" {
				url = br.TCPURL()
			}
			topic := benchName("rt/")
			got := make(chan struct{}, 1)
			c := dialAutopaho(b, url, func(paho.PublishReceived) (bool, error) {
				got <- struct{}{}
				return true, nil
			})
			ctx := context.Background()
			if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic}}}); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, benchPayload)
			roundTrips(b, func() {
				if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, Payload: payload}); err != nil {
					b.Fatal(err)
				}
				select {
				case <-got:
				case <-time.After(benchWait):
					b.Fatal("the message did not come back")
				}
			})
		})
	}
}

// roundTrips times b.N calls of one and reports their median and 99th
// percentile.
func roundTrips(b *testing.B, one func()) {
	times := make([]time.Duration, 0, b.N)
	var total atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		one()
		d := time.Since(t0)
		times = append(times, d)
		total.Add(int64(d))
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[min(len(times)-1, len(times)*99/100)].Nanoseconds()), "p99-ns")
}

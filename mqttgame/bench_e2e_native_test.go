//go:build !js

package mqttgame_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

func init() { relayBenchmark = throughputRelay }

// The benchmark report runs the broker in its own process, so that a
// benchmark's CPU time and allocations are the clients' alone, as they are
// for MQTT.js, which cannot host one: these name its WebSocket and TCP
// URLs.
const (
	benchBrokerEnv    = "MQTTGAME_BENCH_BROKER"
	benchBrokerTCPEnv = "MQTTGAME_BENCH_BROKER_TCP"
)

// benchBroker returns the URL of the benchmark report's broker, or starts
// an embedded broker for one benchmark run and returns its WebSocket URL.
func benchBroker(b *testing.B) string {
	if url := os.Getenv(benchBrokerEnv); url != "" {
		return url
	}
	return startBroker(b, nil).URL()
}

// benchBrokerTCP is benchBroker with the broker's TCP URL as well.
func benchBrokerTCP(b *testing.B) (ws, tcp string) {
	ws, tcp = os.Getenv(benchBrokerEnv), os.Getenv(benchBrokerTCPEnv)
	if ws != "" && tcp != "" {
		return ws, tcp
	}
	br := startBroker(b, &broker.Options{TCPAddr: "127.0.0.1:0"})
	return br.URL(), br.TCPURL()
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
	cpu := processCPU()
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
	reportCPU(b, cpu, b.N)
	reportRate(b, b.N)
}

//go:build !js

package broker

import (
	"errors"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// BenchmarkWebSocketFlood measures the broker-to-client direction under a
// flood: a publisher (over TCP) floods a subscriber (over WebSocket) at
// QoS 0, at most 512 messages ahead. mochi-mqtt gathers the packets
// queued for a client into one write of up to 2 KiB, which the listener
// sends as one WebSocket message.
func BenchmarkWebSocketFlood(b *testing.B) {
	const window = 512
	br, err := Start(&Options{TCPAddr: "127.0.0.1:0"})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	sub := floodClient(b, br.URL())
	pub := floodClient(b, br.TCPURL())
	const topic = "flood"
	if err := sub.Subscribe(topic, mqttgame.AtMostOnce); err != nil {
		b.Fatal(err)
	}
	floodTick(b, func() bool { return sub.IsSubscribed(topic) }, sub, pub)
	payload := make([]byte, 64)
	base := sub.Stats().Received

	b.ReportAllocs()
	b.ResetTimer()
	sent, got := 0, 0
	floodTick(b, func() bool {
		for sent < b.N && sent-got < window {
			if _, err := pub.Publish(topic, payload, mqttgame.AtMostOnce, false); err != nil {
				if errors.Is(err, mqttgame.ErrOutboxFull) {
					break
				}
				b.Fatal(err)
			}
			sent++
		}
		got = int(sub.Stats().Received - base)
		return got >= b.N
	}, sub, pub)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func floodClient(b *testing.B, url string) *mqttgame.Client {
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{url}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	c.Connect()
	floodTick(b, c.IsConnected, c)
	return c
}

// floodTick runs the clients' ticks, as a game loop would, until cond
// holds; it gives up after a minute.
func floodTick(b *testing.B, cond func() bool, clients ...*mqttgame.Client) {
	deadline := time.Now().Add(time.Minute)
	for {
		for _, c := range clients {
			c.Update()
		}
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
	}
}

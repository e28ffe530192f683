//go:build js

package mqttgame_test

import (
	"os"
	"testing"
	"time"
)

// benchBroker returns the URL of the broker started outside WebAssembly,
// where a server can listen (internal/wasmtest, or the benchmark report).
func benchBroker(b *testing.B) string {
	url := os.Getenv(brokerEnv)
	if url == "" {
		b.Fatalf("%s is not set: run the benchmarks through mqttgame/internal/wasmtest or make bench, which start a broker", brokerEnv)
	}
	return url
}

// benchYield lets the JavaScript event loop, where the WebSocket lives,
// run while a game loop polls: only a goroutine that sleeps gives it the
// hand (as a browser game's requestAnimationFrame does).
func benchYield() { time.Sleep(100 * time.Microsecond) }

//go:build js

package mqttgame_test

import (
	"os"
	"syscall/js"
	"testing"
	"time"
)

// benchBroker returns the URL of the broker started outside WebAssembly,
// where a server can listen (e2e/wasm, or the benchmark report).
func benchBroker(b *testing.B) string {
	url := os.Getenv(brokerEnv)
	if url == "" {
		b.Fatalf("%s is not set: run the benchmarks through e2e/wasm or make bench, which start a broker", brokerEnv)
	}
	return url
}

// benchBrokerTCP: nothing speaks TCP in WebAssembly.
func benchBrokerTCP(b *testing.B) (ws, tcp string) { return benchBroker(b), "" }

// processCPU returns the CPU time (user and system) the Node process has
// used: the Go program's and the JavaScript runtime's, WebSocket included.
func processCPU() time.Duration {
	u := js.Global().Get("process").Call("cpuUsage")
	return time.Duration(u.Get("user").Float()+u.Get("system").Float()) * time.Microsecond
}

// benchYield lets the JavaScript event loop, where the WebSocket lives,
// run while a game loop polls: only a goroutine that sleeps gives it the
// hand (as a browser game's requestAnimationFrame does).
func benchYield() { time.Sleep(100 * time.Microsecond) }

// BenchmarkGoWake measures what waking Go from JavaScript costs, the
// floor under every round trip in the browser: a JavaScript function
// queues a microtask that calls a js.Func, which signals a channel a
// goroutine waits on, as the WebSocket binding wakes its reader when a
// message arrives. Go gives the event loop back between wakes. cpu-ns/op
// is the process's CPU time per wake.
func BenchmarkGoWake(b *testing.B) {
	woken := make(chan struct{}, 1)
	wake := js.FuncOf(func(js.Value, []js.Value) any {
		select {
		case woken <- struct{}{}:
		default:
		}
		return nil
	})
	defer wake.Release()
	arm := js.Global().Get("Function").New("wake", "return () => queueMicrotask(wake);").Invoke(wake)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for range b.N {
		arm.Invoke()
		<-woken
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

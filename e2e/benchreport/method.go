package main

import (
	"fmt"
	"strings"
)

// methodText says how each figure is measured.
const methodText = `## How it is measured

- **Throughput** (` + "`BenchmarkThroughput/qos{0,1,2}/…`" + `, ` + "`mqttgame/bench_e2e_test.go`" + `): a publisher and a
  subscriber, both clients of the embedded broker over WebSocket in the same process, 64-byte payloads,
  at most 512 messages published and not yet received. *mqttgame*: ` + "`Publish`" + `, and a game loop that calls
  ` + "`Update`" + ` on both clients until ` + "`Stats().Received`" + ` counts every message, sleeping 50 µs (up to a millisecond
  with Go's timers) when nothing new arrived, as a game leaves the CPU between frames. (Blocking in the
  subscriber's ` + "`Wait`" + ` instead, as the baselines block on their callback, wakes the loop for every message
  and moves fewer of them: about 1.5× autopaho natively and 1.0–1.2× in WebAssembly in trial runs.) *autopaho*: paho.golang v0.23.0's
  autopaho dialled as its documentation says for coder/websocket, ` + "`AttemptConnection`" + ` returning
  ` + "`packets.NewThreadSafeConn(websocket.NetConn(ctx, conn, websocket.MessageBinary))`" + `; QoS 0 through
  ` + "`ConnectionManager.Publish`" + `, QoS 1 and 2 through ` + "`PublishViaQueue`" + ` (` + "`Publish`" + ` would wait for each
  acknowledgement in turn); messages counted in its ` + "`OnPublishReceived`" + ` callback. *relay* (natively only): two
  coder/websocket connections and a server that copies each message from one to the other, messages the
  size of the PUBLISH packets: the ceiling, with no MQTT at all. *MQTT.js* 5.16 (` + "`e2e/benchreport/testdata/mqttjs-bench.mjs`" + `):
  the same two clients, window and payloads in one Node process, over Node's own WebSocket (the browser's API,
  with MQTT.js's ` + "`forceNativeWebSocket`" + `, as in a browser) and over the ` + "`ws`" + ` package (MQTT.js's default in Node);
  QoS 1 and 2 through ` + "`publish`" + `, which keeps each message in flight until acknowledged. The broker runs in the
  report's own process, so that ` + "`allocs/op`" + ` (per message, Go's heap) and ` + "`cpu-ns/msg`" + ` (the process's user
  and system time over the timed part, per message: ` + "`getrusage`" + ` natively, ` + "`process.cpuUsage()`" + ` in Node, which
  in WebAssembly counts the JavaScript runtime and its WebSocket too) are the two clients' alone.
- **Round trip** (` + "`BenchmarkRoundTrip`" + `, natively and in WebAssembly): one client subscribed to its own topic
  sends one message at a time. *mqttgame-ws*: ` + "`Publish`" + `, then ` + "`Wait`" + ` and ` + "`Update`" + ` until ` + "`OnMessage`" + `
  reports it; *autopaho-tcp* (natively only) and *autopaho-ws* (as shipped): ` + "`Publish`" + ` and wait for the callback;
  *MQTT.js*: ` + "`publish`" + ` and wait for its message event. p50 and p99 over every message of a run. The floors
  under them, with no MQTT client: *floor-ws* writes the benchmark's PUBLISH, encoded once by paho, on the
  connection the client opens (` + "`DialTransport`" + `: the browser binding in WebAssembly, coder/websocket natively)
  and reads the broker's copy back on the same goroutine; *floor-global* does the same in JavaScript over Node's
  WebSocket with MQTT.js's codec, ` + "`mqtt-packet`" + `.
- **Tick** (` + "`mqttgame/bench_tick_test.go`" + `): no broker; messages are staged with the inbox's ` + "`put`" + `, the function
  the network goroutines call for each message received. ` + "`ns/tick`" + ` is ` + "`Update`" + ` alone, the game's cost;
  ` + "`ns/op`" + ` adds the staging; ` + "`allocs/op`" + ` covers both, in the steady state.
- **WebAssembly**: the same test binary built with ` + "`GOOS=js GOARCH=wasm`" + `, run under Node with
  ` + "`go_js_wasm_exec`" + ` (and ` + "`--experimental-websocket`" + ` on Node 20); the end-to-end benchmarks reach a broker
  this report starts natively, its URL in ` + "`MQTTGAME_TEST_BROKER`" + `. Their game loop sleeps 100 µs when nothing
  arrived (Node makes it a millisecond), as only a goroutine that sleeps or blocks lets the JavaScript event loop
  deliver WebSocket messages (a browser game's ` + "`requestAnimationFrame`" + ` does the same); the baseline blocks on a
  channel.

`

// framesText reports the broker-to-client decision with this run's
// figures.
func (r *runner) framesText() string {
	var b strings.Builder
	b.WriteString(`## WebSocket messages and MQTT packets

No packet is ever split across two WebSocket messages, and packets written together may share one, as MQTT
over WebSocket allows.

- **Client to broker**: paho writes a packet in pieces (` + "`net.Buffers`" + `), which ` + "`websocket.NetConn`" + ` turns
  into one message each (four for a PUBLISH). The client's connection (` + "`mqttgame/conn.go`" + `) gathers a packet's
  pieces while paho holds its lock and sends them with one write, which ` + "`mqttgame/wsconn_native.go`" + ` sends as one
  binary message. QoS 0 messages published back to back share a write: while more are queued, the outbox's sender
  (` + "`mqttgame/outbox.go`" + `) lets each packet wait for the next, up to 16 KiB, and sends what waits before it waits
  itself; any other packet (an acknowledgement, a ping, a subscription) goes at once, with what waits before it.
  In the browser, ` + "`mqttgame/wsconn_js.go`" + ` appends each such write to the message it sends when Go hands
  the event loop back: the packets written in one turn share a message.
- **Broker to client**: mochi-mqtt gathers the packets queued for a client into one write of up to 2 KiB
  (` + "`ClientNetWriteBufferSize`" + `) when they come faster than it writes, and the broker's WebSocket listener
  (` + "`mqttgame/broker/listeners.go`" + `) sends each write as one message. ` + "`BenchmarkWebSocketFlood`" + ` (a publisher
  over TCP flooding a subscriber over WebSocket at QoS 0) measures the broker's WebSocket path:
`)
	if flood, ok := r.native.median("BenchmarkWebSocketFlood", "msgs/s"); ok {
		fmt.Fprintf(&b, "  %s msgs/s.\n", fmtNum(flood))
	}
	b.WriteString(`- **Proof**: ` + "`TestOneWebSocketMessagePerPacket`" + ` (` + "`mqttgame/frames_test.go`" + `, run by ` + "`make test`" + `) puts a
  proxy between two real clients and the embedded broker that relays the WebSocket messages one by one and
  parses each with paho's ` + "`packets`" + ` package. It sends 300 messages at each QoS with payloads of 0 B to
  100 KiB, waits for pings, unsubscribes and disconnects, and fails if a message in either direction is empty or
  holds part of a packet, or if there are more messages than packets; and if none of the desktop client's messages
  holds more than one packet, as its QoS 0 messages published together must share.

`)
	return b.String()
}

// obstacle says what keeps a target out of reach, for the targets a run
// may miss.
func obstacle(env, target string) string {
	switch {
	case strings.Contains(target, "allocations") && env == "wasm":
		return wasmAllocationsObstacle
	case strings.Contains(target, "allocations"):
		return allocationsObstacle
	case strings.Contains(target, "round trip p50") && env == "wasm":
		return wasmRoundTripObstacle
	case strings.Contains(target, "MQTT.js") && env == "wasm":
		return wasmMQTTjsObstacle
	case strings.Contains(target, "MQTT.js"):
		return nativeMQTTjsObstacle
	case strings.Contains(target, "round trip p50"):
		return roundTripObstacle
	case env == "wasm" && strings.Contains(target, "throughput"):
		return wasmThroughputObstacle
	case strings.Contains(target, "round trip p99"):
		return "The slowest hundredth are the scheduler's and the garbage collector's on a machine whose two cores also run the broker, both clients and other work; the figure moves with the load average above."
	}
	return "The figure moves with the machine's load (see the load average above); rerun `make bench` on an idle machine."
}

const wasmThroughputObstacle = "Both clients receive through the same JavaScript WebSocket and paho encodes every packet sent; " +
	"mqttgame's own binding of the WebSocket (see [The browser's WebSocket](#the-browsers-websocket)) removed most of " +
	"what crossing into JavaScript cost, and its own reading of PUBLISH packets most of what paho's decoding cost, so " +
	"what is left is mostly the Go runtime's and paho's encoding. The game loop also idles in steps of Node's 1 ms " +
	"timer, where the baseline wakes at each message."

const wasmMQTTjsObstacle = "With its own binding of the WebSocket the client crosses between Go and JavaScript about twice per " +
	"message (a copy into the staging buffer and a call for each packet written; reads and wake-ups are shared by " +
	"everything that arrived together) and sends as few WebSocket messages as MQTT.js; see " +
	"[The browser's WebSocket](#the-browsers-websocket). What is left is the Go side: the Go runtime's allocation, " +
	"garbage collection and scheduling (13 allocations per message, as natively: 7 or 8 of them paho's encoding of each " +
	"PUBLISH sent), paho's encoding, and the clock reads that cross into JavaScript (each time.Now is a JavaScript call); see " +
	"[Where the time goes](#where-the-time-goes). MQTT.js runs in V8 as plain JavaScript beside the WebSocket, with " +
	"V8's generational garbage collector."

const wasmRoundTripObstacle = "Out of reach in this runtime for any Go program, not only this client: the Go floor " +
	"(the rows above: the message, encoded beforehand, written on the same browser binding and read back on one " +
	"goroutine, with no MQTT client, no decoding and no queue) takes longer than MQTT.js's whole round trip, and MQTT.js " +
	"itself runs at its own floor (the same exchange in JavaScript over the same WebSocket). Under the Go floor are the " +
	"wake-up of Go from JavaScript that every message costs (a js.Func: syscall/js makes JavaScript values with " +
	"finalizers for each call, and Go's scheduler runs and parks again; BenchmarkGoWake above measures it alone) and " +
	"Node's socket write, the largest single part on both sides (about a fifth of the samples of a V8 profile of " +
	"either floor are in writeBuffer; the profiler charges wall-clock time, and a write on the loopback wakes the " +
	"broker, which shares the two cores). What the client adds over the floor (the row \"against the Go floor\") is " +
	"the path of a message through it: the reader goroutine decodes it into the inbox and wakes the goroutine blocked " +
	"in Wait, whose Publish hands the next message to the sender goroutine. The figure moves with the load (see the " +
	"load average above)."

const nativeMQTTjsObstacle = "The figure moves with the machine's load (see the load average above); see " +
	"[Where the time goes](#where-the-time-goes) for what the client spends per message."

const wasmAllocationsObstacle = "The broker runs in another process: these are both clients' own, and the WebSocket binding makes " +
	"none per message; the count is the same as natively. Receiving takes 2 (the message's copy of its packet, decoded " +
	"in place by mochi-mqtt's codec, and the reader of its properties), publishing 2 (the payload's copy and the " +
	"outbox's entry); the rest are paho's encoding of each PUBLISH sent (its WriteTo builds the packet's header, " +
	"variable header and properties in fresh buffers)."

const allocationsObstacle = "Most of the allocations left per message are paho's encoding of each PUBLISH sent: a heap " +
	"profile of the QoS 0 run puts 7 or 8 in the packet's WriteTo. Receiving takes 2 (the message's copy of its packet, " +
	"decoded in place by mochi-mqtt's codec where paho's ReadPacket allocates 22 times, and the reader of its " +
	"properties), publishing 2 (the payload's copy and the outbox's entry). coder/websocket's NetConn, under the " +
	"baseline, also registers a context callback for every WebSocket message, five allocations, where mqttgame's " +
	"connection registers one per connection."

const roundTripObstacle = "The WebSocket is not what the round trip waits for: the floor (the message, encoded " +
	"beforehand, written on the client's own connection and read back on one goroutine, with no MQTT client) is " +
	"faster over WebSocket than autopaho's round trip over TCP. What the client adds over that floor is two hand-overs " +
	"between goroutines per round trip: the reader goroutine puts the message in the inbox and wakes the goroutine " +
	"blocked in Wait, and Publish hands the next message to the outbox's sender goroutine, so that it never blocks the " +
	"game on a socket write; autopaho writes on the caller's goroutine. Each hand-over to a parked goroutine can wake " +
	"another thread (a futex call, most of the client's own CPU time in a profile after the socket's reads and " +
	"writes). The figure moves with the load (see the load average above)."

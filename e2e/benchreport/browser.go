package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// crossingsScript counts a WebAssembly program's crossings between Go and
// JavaScript, from the repository's root.
const crossingsScript = "e2e/benchreport/testdata/wasm-crossings.js"

// crossingCount is what one client's QoS 0 messages cost in crossings
// between Go and JavaScript, per message, by kind (wasm-crossings.js's
// names).
type crossingCount struct {
	what   string
	perMsg map[string]float64
}

// countCrossings runs the QoS 0 throughput in WebAssembly under
// wasm-crossings.js, for mqttgame (its own binding of the WebSocket) and
// for autopaho (coder/websocket's browser path), with the messages asked
// for and with one: the difference, per message, is the messages' cost.
func (r *runner) countCrossings(b *broker.Broker, messages int) error {
	for _, c := range []struct{ sub, what string }{
		{"mqttgame", "mqttgame (its own binding)"},
		{"autopaho", "autopaho (coder/websocket's browser path)"},
	} {
		full, err := r.runCrossings(b, c.sub, messages)
		if err != nil {
			return err
		}
		empty, err := r.runCrossings(b, c.sub, 1)
		if err != nil {
			return err
		}
		per := map[string]float64{}
		for k, v := range full {
			per[k] = max(0, v-empty[k]) / float64(messages-1)
		}
		r.cross = append(r.cross, crossingCount{c.what, per})
	}
	return nil
}

func (r *runner) runCrossings(b *broker.Broker, sub string, n int) (map[string]float64, error) {
	out := filepath.Join(r.tmp, fmt.Sprintf("crossings-%s-%d.json", sub, n))
	cmd := exec.Command("node", "--stack-size=8192", filepath.Join(r.root, crossingsScript),
		filepath.Join(filepath.Dir(r.execWasm), "wasm_exec.js"), filepath.Join(r.tmp, "wasm.test"),
		"-test.run=^$", "-test.bench=^BenchmarkThroughput$/^qos0$/^"+sub+"$", fmt.Sprintf("-test.benchtime=%dx", n),
		"-test.count=1", "-test.timeout=10m")
	cmd.Dir = pkgs[0]
	cmd.Env = append(os.Environ(), brokerEnv+"="+b.URL(), "MQTTGAME_CROSSINGS="+out)
	if opts := strings.TrimSpace(os.Getenv("NODE_OPTIONS") + " " + r.nodeFlag); opts != "" {
		cmd.Env = append(cmd.Env, "NODE_OPTIONS="+opts)
	}
	if _, err := runLogged(cmd, "wasm crossings"); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	counts := map[string]float64{}
	if err := json.Unmarshal(data, &counts); err != nil {
		return nil, fmt.Errorf("%s: %v", out, err)
	}
	return counts, nil
}

// crossingRows are the kinds of crossing the report shows, each a sum of
// wasm-crossings.js's counts.
var crossingRows = []struct {
	label string
	keys  func(string) bool
}{
	{"calls from JavaScript into Go (each wakes Go's scheduler)", func(k string) bool { return k == "resume" }},
	{"calls from Go into JavaScript through `syscall/js`", func(k string) bool {
		return strings.HasPrefix(k, "syscall/js.") && k != "syscall/js.finalizeRef"
	}},
	{"JavaScript values Go kept and finalized (`finalizeRef`)", func(k string) bool { return k == "syscall/js.finalizeRef" }},
	{"WebSocket messages sent", func(k string) bool { return k == "websocket.send" }},
	{"clock reads (`runtime.walltime`, `runtime.nanotime1`)", func(k string) bool {
		return k == "runtime.walltime" || k == "runtime.nanotime1"
	}},
}

// Before the binding: the run of 2026-11-30 01:23 UTC (6 rounds), with
// coder/websocket's browser path under the client, from BENCHMARKS.md as
// it stood then.
const browserBefore = `Before the binding, the client ran on coder/websocket's browser path (the run of 2026-11-30 01:23 UTC, 6 rounds,
same machine): QoS 0 **3,855 msgs/s, 210.7 µs of CPU and 61 allocations per message** (MQTT.js: 30,647 msgs/s, 15.8 µs),
QoS 1 1,938 msgs/s at 448 µs, round trip p50 342.7 µs, p99 1.42 ms. Its profile, 311.8 µs of busy time per message:
Go runtime 93.2 µs (29.9 %; ` + "`runtime.addspecial`" + ` alone 3.7 %, the finalizer of a js.Value), Node's built-ins 80.9 µs
(26.0 %, nearly all ` + "`writeBuffer`" + `: a socket write per WebSocket message, one per packet), Go⇄JS glue 47.8 µs (15.3 %:
` + "`valueGet`" + `, ` + "`valueNew`" + `, ` + "`loadString`" + `, ` + "`storeValue`" + `), Node's WebSocket 18.0 µs, mqttgame 13.4 µs, paho 10.1 µs.
Counted as above, each message cost 1 call from JavaScript into Go, 17 calls into JavaScript, 8.9 finalized
values and 1 WebSocket message sent; the autopaho row below still runs that path.`

// browserText says which WebSocket the browser build uses, and why, with
// this run's crossings and figures.
func (r *runner) browserText() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## The browser's WebSocket\n\n")
	p("In the browser (and in the WebAssembly runs here, under Node's global `WebSocket`, the browser's API) the client talks to ")
	p("the runtime's own `WebSocket` object through a binding of its own, `mqttgame/wsconn_js.go`; the runtime keeps doing the ")
	p("WebSocket protocol. Native builds stay on coder/websocket (`mqttgame/wsconn_native.go`).\n\n")
	p("Why: coder/websocket's browser path, measured per message, wakes Go's scheduler for every message event (a call ")
	p("from JavaScript into Go), makes about nine JavaScript values that Go keeps and finalizes (the event, its data, a ")
	p("`Uint8Array` each way, the callback's arguments), copies each message into a Go slice of its own and hands it to the ")
	p("reading goroutine through a channel, and sends one WebSocket message per packet. Those are its browser `Conn`'s ")
	p("design (one Go callback per message event, `Read` returning one message), not a setting: no option changes them, and ")
	p("a patch that did would rewrite that `Conn`. The binding is one file: a small JavaScript function, made once, keeps ")
	p("the messages that arrive in a queue and wakes Go only when a `Read` waits, once for everything the runtime dispatched ")
	p("together; a `Read` takes all that is queued (up to 64 KiB) with one copy into Go memory; each packet written is copied ")
	p("into a staging buffer and appended to the outgoing message, sent when Go hands the event loop back, so the packets ")
	p("written in one turn share one WebSocket message (never a packet split across two; MQTT allows packets to share one). ")
	p("Nothing is kept across the boundary per message, no goroutine hands a message to another, no timer runs. ")
	p("`TestBrowserConn…` (`mqttgame/wsconn_js_test.go`, run in WebAssembly by `make test`) checks its edges against a ")
	p("`ws` server in the same Node: close codes and reasons (1000 and 1001 end the stream with `io.EOF`, as natively; others ")
	p("give a `websocket.CloseError`), a broker dropping the connection mid-message, data arriving while Go reads nothing, ")
	p("large messages both ways, gathering without splitting, writes after the close.\n\n")
	if len(r.cross) > 0 {
		p("Crossings between Go and JavaScript per QoS 0 message (publisher and subscriber in one process), counted by ")
		p("`e2e/benchreport/testdata/wasm-crossings.js` around Go's imports, over %d messages:\n\n", r.crossMessages)
		p("| per message |")
		for _, c := range r.cross {
			p(" %s |", c.what)
		}
		p("\n|---|")
		for range r.cross {
			p("---:|")
		}
		p("\n")
		for _, row := range crossingRows {
			p("| %s |", row.label)
			for _, c := range r.cross {
				sum := 0.0
				for k, v := range c.perMsg {
					if row.keys(k) {
						sum += v
					}
				}
				p(" %s |", fmtNum(sum))
			}
			p("\n")
		}
		p("\n")
	}
	b.WriteString(browserBefore)
	p("\n\nWith the binding, in this run: QoS 0 ")
	q0 := "BenchmarkThroughput/qos0/mqttgame"
	m, _ := r.wasm.median(q0, "msgs/s")
	cpu, _ := r.wasm.median(q0, "cpu-ns/msg")
	allocs, _ := r.wasm.median(q0, "allocs/op")
	q1, _ := r.wasm.median("BenchmarkThroughput/qos1/mqttgame", "msgs/s")
	q1cpu, _ := r.wasm.median("BenchmarkThroughput/qos1/mqttgame", "cpu-ns/msg")
	p50, _ := r.wasm.median("BenchmarkRoundTrip/mqttgame-ws", "p50-ns")
	p99, _ := r.wasm.median("BenchmarkRoundTrip/mqttgame-ws", "p99-ns")
	p("**%s msgs/s, %s of CPU and %.0f allocations per message**, QoS 1 %s msgs/s at %s, round trip p50 %s, p99 %s; ",
		fmtNum(m), fmtNs(cpu), allocs, fmtNum(q1), fmtNs(q1cpu), fmtNs(p50), fmtNs(p99))
	p("see [Where the time goes](#where-the-time-goes) for its profile. ")
	p("Gathering the writes is measured too: in trial runs (three interleaved pairs, QoS 0) the same binding sending one ")
	p("message per packet took 50–60 µs of CPU per message against 36–38 µs gathered, and moved 11,600–13,400 msgs/s ")
	p("against 11,600–17,000, with round trips about the same (p50 300–330 µs against 320–380 µs).\n\n")
	return b.String()
}

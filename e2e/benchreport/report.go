package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// row is one target: what was measured, against what, and whether it
// meets the goal (nil: reported only, no goal).
type row struct {
	env, target, measured, goal string
	met                         *bool
}

func yes(b bool) *bool { return &b }

// fmtNs prints a duration in nanoseconds in its natural unit.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	case ns >= 10:
		return fmt.Sprintf("%.0f ns", ns)
	default:
		return fmt.Sprintf("%.2f ns", ns)
	}
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// throughputRows compares mqttgame's throughput and allocations with
// autopaho's, and with the relay's, at each QoS.
func throughputRows(env string, r *results, minRatio float64) []row {
	var rows []row
	for q := range 3 {
		base := fmt.Sprintf("BenchmarkThroughput/qos%d/", q)
		ours, paho := base+"mqttgame", base+"autopaho"
		m, ok1 := r.median(ours, "msgs/s")
		p, ok2 := r.median(paho, "msgs/s")
		ratio, ok3 := r.ratio(ours, "msgs/s", paho, "msgs/s")
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		goal := fmt.Sprintf("≥ %.1f× autopaho", minRatio)
		var met *bool
		if q == 0 {
			met = yes(ratio >= minRatio)
		} else {
			goal = "reported"
		}
		rows = append(rows, row{env, fmt.Sprintf("QoS %d throughput over ws", q),
			fmt.Sprintf("%s msgs/s vs %s: **%.2f×**", fmtNum(m), fmtNum(p), ratio), goal, met})
		if q == 0 {
			if rl, ok := r.median(base+"relay", "msgs/s"); ok {
				rr, _ := r.ratio(ours, "msgs/s", base+"relay", "msgs/s")
				rows = append(rows, row{env, "QoS 0 throughput against the bare WebSocket relay",
					fmt.Sprintf("%s msgs/s vs %s: **%.2f×**", fmtNum(m), fmtNum(rl), rr), "≥ 0.5× relay", yes(rr >= 0.5)})
			}
		}
		if env == "native" {
			ma, _ := r.median(ours, "allocs/op")
			pa, _ := r.median(paho, "allocs/op")
			ar, _ := r.ratio(ours, "allocs/op", paho, "allocs/op")
			goal, met := "reported", (*bool)(nil)
			if q == 0 {
				goal, met = "≤ 0.75× autopaho", yes(ar <= 0.75)
			}
			rows = append(rows, row{env, fmt.Sprintf("QoS %d allocations per message (the clients' process)", q),
				fmt.Sprintf("%.0f vs %.0f: **%.2f×**", ma, pa, ar), goal, met})
		}
	}
	return rows
}

// tickRows checks the per-tick figures against their ceilings.
func tickRows(env string, r *results, getter, handle, tick float64) []row {
	var rows []row
	for _, name := range []string{"BenchmarkLastMessage", "BenchmarkOnMessage", "BenchmarkIsConnected"} {
		ns, ok := r.median(name, "ns/op")
		if !ok {
			continue
		}
		allocs, _ := r.median(name, "allocs/op")
		rows = append(rows, row{env, strings.TrimPrefix(name, "Benchmark"),
			fmt.Sprintf("%s, %.0f allocs", fmtNs(ns), allocs), fmt.Sprintf("< %s, 0 allocs", fmtNs(getter)), yes(ns < getter && allocs == 0)})
	}
	for _, name := range []string{"BenchmarkTopicHandle/LastMessage", "BenchmarkTopicHandle/OnMessage"} {
		ns, ok := r.median(name, "ns/op")
		if !ok {
			continue
		}
		allocs, _ := r.median(name, "allocs/op")
		goal, met := "reported", (*bool)(nil)
		if handle > 0 {
			goal, met = fmt.Sprintf("< %s, 0 allocs", fmtNs(handle)), yes(ns < handle && allocs == 0)
		}
		rows = append(rows, row{env, strings.TrimPrefix(name, "Benchmark"), fmt.Sprintf("%s, %.0f allocs", fmtNs(ns), allocs), goal, met})
	}
	for _, mode := range []string{"latest-wins", "fifo"} {
		name := "BenchmarkUpdate/" + mode
		ns, ok := r.median(name, "ns/tick")
		if !ok {
			continue
		}
		allocs, _ := r.median(name, "allocs/op")
		rows = append(rows, row{env, "Update, 1,000 pending messages over 100 topics (" + mode + ")",
			fmt.Sprintf("%s per tick, %.0f allocs", fmtNs(ns), allocs), fmt.Sprintf("< %s, 0 allocs", fmtNs(tick)), yes(ns < tick && allocs == 0)})
	}
	return rows
}

// scalingSizes are the sizes of BenchmarkTickScaling.
var scalingSizes = []int{10, 100, 1000, 10000}

// scalingSeries are BenchmarkTickScaling's two families.
var scalingSeries = []struct{ key, label string }{
	{"messages", "messages per tick (100 topics)"},
	{"topics", "distinct topics (1 message each)"},
}

// growth returns the exponent k of cost ∝ n^k from the smallest to the
// largest size: 1 is linear.
func growth(r *results, series string) (float64, bool) {
	first, ok1 := r.median(fmt.Sprintf("BenchmarkTickScaling/%s=%d", series, scalingSizes[0]), "ns/tick")
	last, ok2 := r.median(fmt.Sprintf("BenchmarkTickScaling/%s=%d", series, scalingSizes[len(scalingSizes)-1]), "ns/tick")
	if !ok1 || !ok2 || first <= 0 {
		return 0, false
	}
	return math.Log(last/first) / math.Log(float64(scalingSizes[len(scalingSizes)-1])/float64(scalingSizes[0])), true
}

func scalingRows(env string, r *results) []row {
	var rows []row
	for _, s := range scalingSeries {
		k, ok := growth(r, s.key)
		if !ok {
			continue
		}
		rows = append(rows, row{env, "tick cost against " + s.label + ", 10 to 10,000",
			fmt.Sprintf("grows as n^%.2f", k), "linear or better (n^1.1 at most)", yes(k <= 1.1)})
	}
	return rows
}

// ratioRow compares one figure of a with the same round's figure of b.
// goal is "≤ x" or "≥ x" (x the ratio), or "" for reported only.
func ratioRow(env, target string, ra *results, a string, rb *results, b, unit, bName string, format func(float64) string, cmp string, goal float64) (row, bool) {
	av, ok1 := ra.median(a, unit)
	bv, ok2 := rb.median(b, unit)
	ratio, ok3 := crossRatio(ra, a, unit, rb, b, unit)
	if !ok1 || !ok2 || !ok3 {
		return row{}, false
	}
	rw := row{env: env, target: target, measured: fmt.Sprintf("%s vs %s: **%.2f×**", format(av), format(bv), ratio), goal: "reported"}
	switch cmp {
	case "≤":
		rw.goal, rw.met = fmt.Sprintf("≤ %.2g× %s", goal, bName), yes(ratio <= goal)
	case "≥":
		rw.goal, rw.met = fmt.Sprintf("≥ %.2g× %s", goal, bName), yes(ratio >= goal)
	}
	return rw, true
}

func fmtRate(v float64) string { return fmtNum(v) + " msgs/s" }
func fmtCPU(v float64) string  { return fmtNs(v) + " CPU" }

// mqttjsRows compares mqttgame with MQTT.js in Node: natively, against
// MQTT.js over the runtime's own WebSocket (and over ws, reported); in
// WebAssembly, against MQTT.js in the same runtime over the same
// WebSocket.
func (r *runner) mqttjsRows(env string, res *results, cpuGoal float64) []row {
	var rows []row
	add := func(rw row, ok bool) {
		if ok {
			rows = append(rows, rw)
		}
	}
	js := "BenchmarkThroughput/qos%d/mqttjs-global"
	ours := "BenchmarkThroughput/qos%d/mqttgame"
	for q := range 2 {
		cmp, cmpCPU := "≥", "≤"
		if q > 0 {
			cmp, cmpCPU = "", ""
		}
		add(ratioRow(env, fmt.Sprintf("QoS %d throughput against MQTT.js over Node's WebSocket", q), res, fmt.Sprintf(ours, q), r.mqttjs, fmt.Sprintf(js, q), "msgs/s", "MQTT.js", fmtRate, cmp, 1))
		add(ratioRow(env, fmt.Sprintf("QoS %d CPU per message (the clients' process) against MQTT.js's", q), res, fmt.Sprintf(ours, q), r.mqttjs, fmt.Sprintf(js, q), "cpu-ns/msg", "MQTT.js", fmtCPU, cmpCPU, cpuGoal))
	}
	if env == "native" {
		add(ratioRow(env, "QoS 0 throughput against MQTT.js over ws", res, fmt.Sprintf(ours, 0), r.mqttjs, "BenchmarkThroughput/qos0/mqttjs-ws", "msgs/s", "MQTT.js", fmtRate, "", 0))
		add(ratioRow(env, "QoS 0 CPU per message against MQTT.js over ws", res, fmt.Sprintf(ours, 0), r.mqttjs, "BenchmarkThroughput/qos0/mqttjs-ws", "cpu-ns/msg", "MQTT.js", fmtCPU, "", 0))
		add(ratioRow(env, "round trip p50 against MQTT.js over Node's WebSocket", res, "BenchmarkRoundTrip/mqttgame-ws", r.mqttjs, "BenchmarkRoundTrip/mqttjs-global", "p50-ns", "MQTT.js", fmtNs, "", 0))
		return rows
	}
	add(ratioRow(env, "round trip p50 against MQTT.js in the same runtime", res, "BenchmarkRoundTrip/mqttgame-ws", r.mqttjs, "BenchmarkRoundTrip/mqttjs-global", "p50-ns", "MQTT.js", fmtNs, "≤", 1))
	add(ratioRow(env, "round trip p50 of the Go floor (no MQTT client: paho's encoding of the message, written and read back over the same binding) against MQTT.js", res, "BenchmarkRoundTrip/floor-ws", r.mqttjs, "BenchmarkRoundTrip/mqttjs-global", "p50-ns", "MQTT.js", fmtNs, "", 0))
	add(ratioRow(env, "round trip p50 of MQTT.js against its floor (no MQTT client: mqtt-packet's encoding of the message over the same WebSocket)", r.mqttjs, "BenchmarkRoundTrip/mqttjs-global", r.mqttjs, "BenchmarkRoundTrip/floor-global", "p50-ns", "the floor", fmtNs, "", 0))
	add(ratioRow(env, "round trip p50 against the Go floor: what the client adds", res, "BenchmarkRoundTrip/mqttgame-ws", res, "BenchmarkRoundTrip/floor-ws", "p50-ns", "the floor", fmtNs, "", 0))
	if p99, ok := res.median("BenchmarkRoundTrip/mqttgame-ws", "p99-ns"); ok {
		js99, _ := r.mqttjs.median("BenchmarkRoundTrip/mqttjs-global", "p99-ns")
		rows = append(rows, row{env, "round trip p99", fmt.Sprintf("%s (MQTT.js %s)", fmtNs(p99), fmtNs(js99)), "< 5 ms", yes(p99 < 5e6)})
	}
	if wake, ok := res.median("BenchmarkGoWake", "cpu-ns/op"); ok {
		rt, _ := res.median("BenchmarkRoundTrip/mqttgame-ws", "cpu-ns/msg")
		rows = append(rows, row{env, "a wake of Go from JavaScript (a js.Func called from a microtask), under every round trip",
			fmt.Sprintf("%s (a round trip: %s)", fmtCPU(wake), fmtCPU(rt)), "reported", nil})
	}
	if a, ok := res.median(fmt.Sprintf(ours, 0), "allocs/op"); ok {
		rows = append(rows, row{env, "QoS 0 allocations per message (the clients' process)", fmt.Sprintf("%.0f", a), "≤ 30 (half of 61)", yes(a <= 30.5)})
	}
	return rows
}

func (r *runner) targets() []row {
	var rows []row
	rows = append(rows, throughputRows("native", r.native, 1.4)...)
	p50, ok1 := r.native.median("BenchmarkRoundTrip/mqttgame-ws", "p50-ns")
	tcp, ok2 := r.native.median("BenchmarkRoundTrip/autopaho-tcp", "p50-ns")
	ws, _ := r.native.median("BenchmarkRoundTrip/autopaho-ws", "p50-ns")
	if ok1 && ok2 {
		ratio, _ := r.native.ratio("BenchmarkRoundTrip/mqttgame-ws", "p50-ns", "BenchmarkRoundTrip/autopaho-tcp", "p50-ns")
		rows = append(rows, row{"native", "round trip p50, publish to visible after Update, over ws",
			fmt.Sprintf("%s vs autopaho over TCP %s (over ws as shipped %s): **%.2f×**", fmtNs(p50), fmtNs(tcp), fmtNs(ws), ratio),
			"≤ 1.2× autopaho over TCP", yes(ratio <= 1.2)})
	}
	if rw, ok := ratioRow("native", "round trip p50 against the floor (no MQTT client: paho's encoding of the message, written and read back over the same WebSocket): what the client adds", r.native, "BenchmarkRoundTrip/mqttgame-ws", r.native, "BenchmarkRoundTrip/floor-ws", "p50-ns", "the floor", fmtNs, "", 0); ok {
		rows = append(rows, rw)
	}
	if p99, ok := r.native.median("BenchmarkRoundTrip/mqttgame-ws", "p99-ns"); ok {
		rows = append(rows, row{"native", "round trip p99 over ws", fmtNs(p99), "< 1 ms", yes(p99 < 1e6)})
	}
	rows = append(rows, r.mqttjsRows("native", r.native, 0.67)...)
	rows = append(rows, tickRows("native", r.native, 60, 5, 100e3)...)
	rows = append(rows, scalingRows("native", r.native)...)
	rows = append(rows, tickRows("wasm", r.wasm, 500, 0, 1e6)...)
	rows = append(rows, throughputRows("wasm", r.wasm, 1.6)...)
	rows = append(rows, r.mqttjsRows("wasm", r.wasm, 1.0)...)
	rows = append(rows, scalingRows("wasm", r.wasm)...)
	return rows
}

func (r *runner) write(out string) error {
	if err := os.MkdirAll(r.dir, 0o755); err != nil {
		return err
	}
	for env, buf := range r.raw {
		if err := os.WriteFile(filepath.Join(r.dir, env+".txt"), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if r.rounds > 0 { // -rounds 0: the profiles alone
		if err := r.chart(filepath.Join(r.dir, chartFile)); err != nil {
			return err
		}
	}

	// Links in the report are relative to it.
	rel, err := filepath.Rel(filepath.Dir(out), r.dir)
	if err != nil {
		rel = r.dir
	}
	rel = filepath.ToSlash(rel)
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	cpu, goVersion, node, kernel := machine()
	p("# Benchmarks\n\n")
	p("<!-- written by `make bench` (e2e/benchreport); do not edit by hand -->\n\n")
	p("What the client costs a game, natively and in the browser (WebAssembly under Node), ")
	p("against what a game would use instead. Each figure is the median of %d interleaved rounds; ", r.rounds)
	p("each round runs every benchmark once, so a ratio compares two benchmarks run side by side, ")
	p("under the same load, and is the median of the rounds' ratios.\n\n")
	p("| | |\n|---|---|\n")
	p("| machine | %s |\n| system | %s |\n| Go | %s |\n| Node | %s |\n", cpu, kernel, goVersion, node)
	p("| run | %s, %d rounds in %s; load average %s before, %s after |\n", r.started.UTC().Format(time.DateTime+" MST"), r.rounds, r.took.Round(time.Second), r.load[0], r.load[1])
	p("| command | `make bench` (`bin/benchreport -rounds %d -benchtime %s`, built from `e2e/benchreport`) |\n", r.rounds, r.benchtime)
	p("| raw output | [`native.txt`](%s/native.txt), [`wasm.txt`](%s/wasm.txt), [`mqttjs.txt`](%s/mqttjs.txt): `benchstat` reads them |\n\n", rel, rel, rel)

	p("## Targets\n\n| where | target | measured | goal | met |\n|---|---|---|---|:---:|\n")
	var missed []row
	for _, t := range r.targets() {
		met := "—"
		if t.met != nil {
			met = "yes"
			if !*t.met {
				met = "**no**"
				missed = append(missed, t)
			}
		}
		p("| %s | %s | %s | %s | %s |\n", t.env, t.target, t.measured, t.goal, met)
	}
	p("\n")
	if len(missed) == 0 {
		p("Every target is met in this run.\n\n")
	} else {
		what := fmt.Sprintf("%d targets are", len(missed))
		if len(missed) == 1 {
			what = "1 target is"
		}
		p("%s not met in this run; see [What stands in the way](#what-stands-in-the-way).\n\n", what)
	}
	b.WriteString(r.peersText())
	b.WriteString(r.browserText())
	b.WriteString(r.profileText())
	b.WriteString(methodText)
	b.WriteString(r.framesText())

	p("## How the tick grows\n\n")
	p("`BenchmarkTickScaling`: the cost of `Update` alone (ns/tick), against the messages that arrive between two ticks ")
	p("over 100 topics (LatestWins: each topic shows its newest), and against the distinct topics that each show a message. ")
	p("Per message is per message shown.\n\n![Tick cost against messages and topics](%s)\n\n", rel+"/"+chartFile)
	p("| n | native: n messages | per message | native: n topics | per message | wasm: n messages | per message | wasm: n topics | per message |\n")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, n := range scalingSizes {
		p("| %d", n)
		for _, res := range []*results{r.native, r.wasm} {
			for _, s := range scalingSeries {
				name := fmt.Sprintf("BenchmarkTickScaling/%s=%d", s.key, n)
				ns, ok := res.median(name, "ns/tick")
				shown, _ := res.median(name, "shown/tick")
				if !ok || shown == 0 {
					p(" | – | –")
					continue
				}
				p(" | %s | %s", fmtNs(ns), fmtNs(ns/shown))
			}
		}
		p(" |\n")
	}
	p("\n")

	for _, env := range []struct {
		name string
		res  *results
	}{{"native", r.native}, {"wasm", r.wasm}, {"MQTT.js in Node", r.mqttjs}} {
		p("## Every figure, %s\n\nMedian over the rounds, and the lowest and highest.\n\n", env.name)
		p("| benchmark | unit | median | lowest | highest |\n|---|---|---:|---:|---:|\n")
		for _, name := range env.res.names {
			for _, unit := range unitOrder(env.res.by[name]) {
				m, _ := env.res.median(name, unit)
				lo, hi := env.res.spread(name, unit)
				p("| %s | %s | %s | %s | %s |\n", strings.TrimPrefix(name, "Benchmark"), unit, fmtNum(m), fmtNum(lo), fmtNum(hi))
			}
		}
		p("\n")
	}

	p("## What stands in the way\n\n")
	if len(missed) == 0 {
		p("Nothing in this run.\n")
	}
	for _, t := range missed {
		p("- **%s, %s**: %s against %s. %s\n", t.env, t.target, t.measured, t.goal, obstacle(t.env, t.target))
	}
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

// peersText is every client side by side: what each moves, what each
// costs its process in CPU time per message, and its round trip.
func (r *runner) peersText() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Side by side\n\n")
	p("Each client as a game would run it: natively, in Node (MQTT.js), and compiled to WebAssembly under Node. ")
	p("CPU is the process's (user and system time, both clients, not the broker's, which runs in the report's process) per message moved. ")
	p("Medians over the rounds.\n\n")
	p("| where | client | QoS 0 | CPU/msg | allocs/msg | QoS 1 | CPU/msg | round trip p50 | p99 | CPU/msg |\n")
	p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	type peer struct {
		where, client string
		res           *results
		tp, rt        string // throughput's and round trip's sub-benchmark
	}
	for _, c := range []peer{
		{"native", "mqttgame over ws", r.native, "mqttgame", "mqttgame-ws"},
		{"native", "autopaho over ws (coder/websocket NetConn)", r.native, "autopaho", "autopaho-ws"},
		{"native", "autopaho over TCP", r.native, "", "autopaho-tcp"},
		{"native", "bare WebSocket relay, no MQTT", r.native, "relay", ""},
		{"Node", "MQTT.js over ws", r.mqttjs, "mqttjs-ws", "mqttjs-ws"},
		{"Node", "MQTT.js over Node's WebSocket", r.mqttjs, "mqttjs-global", "mqttjs-global"},
		{"wasm", "mqttgame over Node's WebSocket (its own binding)", r.wasm, "mqttgame", "mqttgame-ws"},
		{"wasm", "autopaho over Node's WebSocket (coder/websocket's browser path)", r.wasm, "autopaho", "autopaho-ws"},
	} {
		cell := func(name, unit string, f func(float64) string) string {
			if v, ok := c.res.median(name, unit); ok {
				return f(v)
			}
			return "–"
		}
		p("| %s | %s", c.where, c.client)
		for q := range 2 {
			name := ""
			if c.tp != "" {
				name = fmt.Sprintf("BenchmarkThroughput/qos%d/%s", q, c.tp)
			}
			p(" | %s | %s", cell(name, "msgs/s", fmtNum), cell(name, "cpu-ns/msg", fmtNs))
			if q == 0 {
				p(" | %s", cell(name, "allocs/op", fmtNum))
			}
		}
		name := ""
		if c.rt != "" {
			name = "BenchmarkRoundTrip/" + c.rt
		}
		p(" | %s | %s | %s |\n", cell(name, "p50-ns", fmtNs), cell(name, "p99-ns", fmtNs), cell(name, "cpu-ns/msg", fmtNs))
	}
	p("\nQoS columns are messages per second. MQTT.js reports no allocations; in WebAssembly allocs/msg counts the Go heap only.\n\n")
	return b.String()
}

// unitOrder lists a benchmark's units, the standard ones first.
func unitOrder(units map[string]map[int]float64) []string {
	var order []string
	for _, u := range []string{"ns/op", "ns/tick", "shown/tick", "msgs/s", "p50-ns", "p99-ns", "cpu-ns/msg", "B/op", "allocs/op"} {
		if _, ok := units[u]; ok {
			order = append(order, u)
		}
	}
	for u := range units {
		found := false
		for _, o := range order {
			found = found || o == u
		}
		if !found {
			order = append(order, u)
		}
	}
	return order
}

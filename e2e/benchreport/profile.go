package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// profileSummary is where a profiled run's CPU time went, by part of the
// program and by function.
type profileSummary struct {
	what     string
	messages int
	total    time.Duration // busy time: idle excluded
	parts    []share       // by part, largest first
	funcs    []share       // by function (self time), largest first
}

type share struct {
	name string
	d    time.Duration
}

// profile runs the QoS 0 throughput under a CPU profiler for mqttgame in
// WebAssembly and MQTT.js in the same Node (V8's profiler, node
// --cpu-prof), and for mqttgame natively (pprof). Each runs twice, with
// the messages asked for and with one: the difference is the messages'
// cost, without the program's start, connecting and subscribing.
func (r *runner) profile() error {
	n, ok := strings.CutSuffix(r.profileTime, "x")
	messages, err := strconv.Atoi(n)
	if !ok || err != nil || messages <= 1 {
		return fmt.Errorf("-profile %q: want a count of messages above 1, like 20000x", r.profileTime)
	}
	b, err := broker.Start(&broker.Options{TCPAddr: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	defer b.Close()
	log.Printf("profiling %d messages at QoS 0", messages)
	args := func(n int) []string {
		return []string{"-test.run=^$", "-test.bench=^BenchmarkThroughput$/^qos0$/^mqttgame$", fmt.Sprintf("-test.benchtime=%dx", n), "-test.count=1", "-test.timeout=10m"}
	}
	runs := []struct {
		what string
		run  func(n int, dir string) (profileSummary, error)
	}{
		{"WebAssembly in Node: mqttgame over Node's WebSocket", func(n int, dir string) (profileSummary, error) {
			if _, err := r.runWasm(b, args(n), "--cpu-prof --cpu-prof-dir="+dir); err != nil {
				return profileSummary{}, err
			}
			return v8Summary(dir)
		}},
		{"Node: MQTT.js over Node's WebSocket", func(n int, dir string) (profileSummary, error) {
			if _, err := r.runMQTTjs(b, "global", fmt.Sprintf("%dx", n), "Throughput/qos0", "--cpu-prof --cpu-prof-dir="+dir); err != nil {
				return profileSummary{}, err
			}
			return v8Summary(dir)
		}},
		{"native: mqttgame over ws", func(n int, dir string) (profileSummary, error) {
			prof := filepath.Join(dir, "cpu.pprof")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return profileSummary{}, err
			}
			if _, err := r.runNative("native0.test", pkgs[0], b, append(args(n), "-test.cpuprofile="+prof)); err != nil {
				return profileSummary{}, err
			}
			return pprofSummary(r.goBin, filepath.Join(r.tmp, "native0.test"), prof)
		}},
	}
	log.Printf("counting the crossings between Go and JavaScript over %d messages", messages)
	r.crossMessages = messages - 1
	if err := r.countCrossings(b, messages); err != nil {
		return err
	}
	for i, run := range runs {
		n := messages
		if strings.HasPrefix(run.what, "native") {
			n *= 10 // pprof samples at 100 Hz, and natively messages are tens of times faster
		}
		full, err := run.run(n, filepath.Join(r.tmp, fmt.Sprintf("prof%d-full", i)))
		if err != nil {
			return err
		}
		empty, err := run.run(1, filepath.Join(r.tmp, fmt.Sprintf("prof%d-empty", i)))
		if err != nil {
			return err
		}
		s := full.minus(empty)
		s.what, s.messages = run.what, n-1
		r.prof = append(r.prof, s)
	}
	return nil
}

// minus is s without o's time, part by part and function by function.
func (s profileSummary) minus(o profileSummary) profileSummary {
	sub := func(a, b []share) []share {
		m := map[string]time.Duration{}
		for _, x := range a {
			m[x.name] += x.d
		}
		for _, x := range b {
			m[x.name] -= x.d
		}
		for k, v := range m {
			if v <= 0 {
				delete(m, k)
			}
		}
		return sorted(m)
	}
	d := profileSummary{parts: sub(s.parts, o.parts), funcs: sub(s.funcs, o.funcs)}
	for _, x := range d.parts {
		d.total += x.d
	}
	return d
}

// v8Profile is the part of a .cpuprofile (V8's format) that is read.
type v8Profile struct {
	Nodes []struct {
		ID        int `json:"id"`
		CallFrame struct {
			FunctionName string `json:"functionName"`
			URL          string `json:"url"`
		} `json:"callFrame"`
	} `json:"nodes"`
	Samples    []int   `json:"samples"`
	TimeDeltas []int64 `json:"timeDeltas"` // µs
}

// v8Summary sums the self time of every profile in dir.
func v8Summary(dir string) (profileSummary, error) {
	files, _ := filepath.Glob(filepath.Join(dir, "*.cpuprofile"))
	if len(files) == 0 {
		return profileSummary{}, fmt.Errorf("node wrote no profile in %s", dir)
	}
	parts, funcs := map[string]time.Duration{}, map[string]time.Duration{}
	var total time.Duration
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return profileSummary{}, err
		}
		var p v8Profile
		if err := json.Unmarshal(data, &p); err != nil {
			return profileSummary{}, fmt.Errorf("%s: %v", f, err)
		}
		type frame struct{ fn, url string }
		frames := map[int]frame{}
		for _, n := range p.Nodes {
			frames[n.ID] = frame{strings.TrimPrefix(n.CallFrame.FunctionName, "$"), n.CallFrame.URL}
		}
		for i, id := range p.Samples {
			if i >= len(p.TimeDeltas) {
				break
			}
			fr := frames[id]
			part := v8Part(fr.fn, fr.url)
			if part == "" {
				continue
			}
			d := time.Duration(max(p.TimeDeltas[i], 0)) * time.Microsecond
			total += d
			parts[part] += d
			name := fr.fn
			if name == "" {
				name = "(anonymous) " + filepath.Base(fr.url)
			}
			funcs[name] += d
		}
	}
	return profileSummary{total: total, parts: sorted(parts), funcs: sorted(funcs)}, nil
}

// v8Part names the part of the program a V8 frame belongs to; "" for
// idle time.
func v8Part(fn, url string) string {
	switch {
	case fn == "(idle)":
		return ""
	case fn == "(garbage collector)":
		return "V8's garbage collector"
	case fn == "(program)" || fn == "(root)":
		return "V8 and Node, native code"
	case strings.HasPrefix(url, "wasm://") && !strings.Contains(fn, "."):
		return "V8 and Node, native code" // Node's own WebAssembly: undici's HTTP parser
	case strings.HasPrefix(url, "wasm://"):
		return goPart(fn)
	case strings.Contains(url, "wasm_exec"):
		return "Go⇄JS glue (wasm_exec.js)"
	case url == "":
		return "Node's built-ins (socket writes and reads, timers)"
	case strings.Contains(url, "undici"):
		return "Node's WebSocket (undici)"
	case strings.Contains(url, "node_modules/"):
		return "MQTT.js and its packages"
	case strings.HasPrefix(url, "node:"):
		return "Node, JavaScript"
	}
	return "other JavaScript (the benchmark's own)"
}

// goPart names the part of a Go program a function belongs to. In
// WebAssembly, V8 names a function github.com_coder_websocket.__Conn_.Read
// for github.com/coder/websocket.(*Conn).Read.
func goPart(fn string) string {
	fn = strings.ReplaceAll(fn, "_", "/")
	switch {
	case strings.HasPrefix(fn, "syscall.") || strings.HasPrefix(fn, "internal/poll.") || strings.HasPrefix(fn, "net.") ||
		strings.HasPrefix(fn, "internal/syscall/") || strings.HasPrefix(fn, "internal/runtime/syscall/"):
		return "system calls and network"
	case strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "runtime/") || strings.HasPrefix(fn, "internal/runtime/"):
		return "Go runtime (allocation, GC, scheduler)"
	case strings.HasPrefix(fn, "syscall/js."):
		return "Go⇄JS glue (syscall/js)"
	case strings.HasPrefix(fn, "github.com/mqttgame/"):
		return "mqttgame"
	case strings.HasPrefix(fn, "github.com/eclipse/paho"):
		return "paho"
	case strings.HasPrefix(fn, "github.com/coder/websocket"):
		return "coder/websocket (Go)"
	case strings.HasPrefix(fn, "github.com/mochi-mqtt/server/v2/packets"):
		// The broker runs in another process: in a client's profile this
		// is the decoding of received PUBLISH packets (publishread.go).
		return "mochi-mqtt's codec (decoding PUBLISH)"
	}
	return "other Go (standard library)"
}

// pprofLine is a line of `go tool pprof -top`: flat, flat%, sum%, cum,
// cum%, function.
var pprofLine = regexp.MustCompile(`^\s*([\d.]+)(ns|us|µs|ms|s|mins|hrs)\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+(.+)$`)

// pprofSummary reads a Go CPU profile with go tool pprof.
func pprofSummary(goBin, bin, prof string) (profileSummary, error) {
	out, err := exec.Command(goBin, "tool", "pprof", "-top", "-nodecount=1000000", bin, prof).Output()
	if err != nil {
		return profileSummary{}, fmt.Errorf("go tool pprof: %v", err)
	}
	units := map[string]time.Duration{"ns": time.Nanosecond, "us": time.Microsecond, "µs": time.Microsecond,
		"ms": time.Millisecond, "s": time.Second, "mins": time.Minute, "hrs": time.Hour}
	parts, funcs := map[string]time.Duration{}, map[string]time.Duration{}
	var total time.Duration
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := pprofLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		d := time.Duration(v * float64(units[m[2]]))
		total += d
		parts[goPart(m[3])] += d
		funcs[m[3]] += d
	}
	return profileSummary{total: total, parts: sorted(parts), funcs: sorted(funcs)}, nil
}

func sorted(m map[string]time.Duration) []share {
	var s []share
	for k, v := range m {
		s = append(s, share{k, v})
	}
	slices.SortFunc(s, func(a, b share) int {
		if a.d != b.d {
			return int(b.d - a.d)
		}
		return strings.Compare(a.name, b.name)
	})
	return s
}

// profileText is the report's section on where the time goes.
func (r *runner) profileText() string {
	if len(r.prof) == 0 {
		return ""
	}
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Where the time goes\n\n")
	p("CPU profiles of the QoS 0 throughput benchmark, run after the rounds: ")
	p("V8's (`node --cpu-prof`) for the WebAssembly build and for MQTT.js in the same Node, pprof natively. ")
	p("The publisher and the subscriber run in the process profiled; the broker runs in another. ")
	p("Each is run twice, with many messages and with one, and the second's profile is taken from the first's: ")
	p("what is left is the messages' cost without the program's start, connecting and subscribing, ")
	p("up to the profilers' sampling. Busy time only (Node's idle time left out), divided by the messages. ")
	p("V8's profiler charges wall-clock time to the function it finds running, so on a busy machine a time slice lost ")
	p("to another process lands on whatever was running then, most often a socket write (`writeBuffer`): compare ")
	p("the totals with the CPU/msg columns above, which count CPU time only.\n\n")
	for _, s := range r.prof {
		if s.messages == 0 || s.total == 0 {
			continue
		}
		perMsg := func(d time.Duration) string { return fmtNs(float64(d.Nanoseconds()) / float64(s.messages)) }
		pct := func(d time.Duration) string { return fmt.Sprintf("%.1f %%", 100*float64(d)/float64(s.total)) }
		p("**%s**, %d messages: %s of CPU per message.\n\n", s.what, s.messages, perMsg(s.total))
		p("| part | share | per message |\n|---|---:|---:|\n")
		for _, x := range s.parts {
			p("| %s | %s | %s |\n", x.name, pct(x.d), perMsg(x.d))
		}
		p("\nThe functions with most self time: ")
		for i, x := range s.funcs[:min(len(s.funcs), 10)] {
			if i > 0 {
				p(", ")
			}
			p("`%s` %s", x.name, pct(x.d))
		}
		p(".\n\n")
	}
	return b.String()
}

// Benchreport runs the mqttgame benchmarks natively and compiled to
// WebAssembly under Node, in interleaved rounds, and writes BENCHMARKS.md:
// the machine, the commands, every figure, each target with its ratio to
// the baseline measured in the same round, and the tick's scaling as a
// table and a chart. The raw outputs it keeps beside the chart are in the
// standard benchmark format, for benchstat.
//
// It belongs to the nested module e2e; build it there and run it from
// the repository's root (make bench does):
//
//	(cd e2e && go build -o ../bin/benchreport ./benchreport)
//	bin/benchreport -rounds 6
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// The protocol with mqttgame's benchmarks: the broker's URLs, in
// WebAssembly (bench_e2e_js_test.go) and natively
// (bench_e2e_native_test.go).
const (
	brokerEnv         = "MQTTGAME_TEST_BROKER"
	benchBrokerEnv    = "MQTTGAME_BENCH_BROKER"
	benchBrokerTCPEnv = "MQTTGAME_BENCH_BROKER_TCP"
)

// mqttjsScript is the MQTT.js benchmark, from the repository's root.
const mqttjsScript = "e2e/benchreport/testdata/mqttjs-bench.mjs"

// mqttjsTransports are the WebSockets MQTT.js runs over: Node's own (the
// browser's API; the WebAssembly build uses the same) and the ws package,
// MQTT.js's default in Node.
var mqttjsTransports = []string{"global", "ws"}

func main() {
	rounds := flag.Int("rounds", 6, "interleaved rounds: each runs every benchmark once, natively then in WebAssembly")
	benchtime := flag.String("benchtime", "1s", "-benchtime of each benchmark run")
	out := flag.String("o", "BENCHMARKS.md", "the report to write")
	dir := flag.String("dir", "docs/bench", "where to keep the raw outputs and the chart")
	bench := flag.String("bench", ".", "which benchmarks to run (go test's -bench)")
	profile := flag.String("profile", "20000x", "the -benchtime of the profiled QoS 0 throughput runs after the rounds; empty: none")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("benchreport: ")

	r := &runner{rounds: *rounds, benchtime: *benchtime, bench: *bench, dir: *dir, profileTime: *profile}
	if err := r.run(); err != nil {
		if r.tmp != "" {
			os.RemoveAll(r.tmp)
		}
		log.Fatal(err)
	}
	if r.profileTime != "" {
		if err := r.profile(); err != nil {
			os.RemoveAll(r.tmp)
			log.Fatal(err)
		}
	}
	os.RemoveAll(r.tmp)
	if err := r.write(*out); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s, %s and %s", *out, filepath.Join(*dir, "native.txt"), filepath.Join(*dir, chartFile))
}

// runner builds the benchmark binaries once and runs them round after
// round.
type runner struct {
	rounds    int
	benchtime string
	bench     string
	dir       string

	profileTime string

	tmp      string
	goBin    string
	execWasm string
	nodeFlag string
	root     string // the repository's root

	started time.Time
	took    time.Duration
	load    [2]string // load average before and after
	native  *results
	wasm    *results
	mqttjs  *results                 // MQTT.js in Node, over both transports
	raw     map[string]*bytes.Buffer // output by environment, for benchstat
	prof    []profileSummary         // where the time goes, by run

	cross         []crossingCount // Go⇄JavaScript crossings per message, by client
	crossMessages int
}

// pkgs are the packages with benchmarks, natively; the first also runs in
// WebAssembly.
var pkgs = []string{"./mqttgame", "./mqttgame/broker"}

func (r *runner) run() error {
	var err error
	if r.tmp, err = os.MkdirTemp("", "benchreport"); err != nil {
		return err
	}
	if r.root, err = os.Getwd(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(r.root, "node_modules", "mqtt")); err != nil {
		return fmt.Errorf("MQTT.js is missing: run npm ci in the repository's root (make bench does): %v", err)
	}
	r.goBin = filepath.Join(goEnv("GOROOT"), "bin", "go")
	r.execWasm = filepath.Join(goEnv("GOROOT"), "lib", "wasm", "go_js_wasm_exec")
	if r.nodeFlag, err = websocketFlag(); err != nil {
		return err
	}
	r.native, r.wasm, r.mqttjs = newResults(), newResults(), newResults()
	r.raw = map[string]*bytes.Buffer{"native": {}, "wasm": {}, "mqttjs": {}}

	for i, pkg := range pkgs {
		if err := r.build(fmt.Sprintf("native%d.test", i), pkg, nil); err != nil {
			return err
		}
	}
	if err := r.build("wasm.test", pkgs[0], []string{"GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0"}); err != nil {
		return err
	}

	r.started = time.Now()
	r.load[0] = loadAverage()
	for round := range r.rounds {
		log.Printf("round %d of %d", round+1, r.rounds)
		if err := r.round(round); err != nil {
			return err
		}
	}
	r.took = time.Since(r.started)
	r.load[1] = loadAverage()
	return nil
}

// round runs every benchmark once against one broker, which runs here,
// outside the processes measured: mqttgame's and autopaho's natively and
// in WebAssembly, then MQTT.js's over each transport.
func (r *runner) round(round int) error {
	b, err := broker.Start(&broker.Options{TCPAddr: "127.0.0.1:0"})
	if err != nil {
		return err
	}
	defer b.Close()
	for i, pkg := range pkgs {
		out, err := r.runNative(fmt.Sprintf("native%d.test", i), pkg, b, r.benchArgs())
		if err != nil {
			return err
		}
		r.native.add(round, out)
		r.raw["native"].Write(out)
	}
	out, err := r.runWasm(b, r.benchArgs(), "")
	if err != nil {
		return err
	}
	r.wasm.add(round, out)
	r.raw["wasm"].Write(out)
	for _, t := range mqttjsTransports {
		out, err := r.runMQTTjs(b, t, r.benchtime, "", "")
		if err != nil {
			return err
		}
		r.mqttjs.add(round, out)
		r.raw["mqttjs"].Write(out)
	}
	return nil
}

func (r *runner) build(name, pkg string, env []string) error {
	cmd := exec.Command(r.goBin, "test", "-c", "-o", filepath.Join(r.tmp, name), pkg)
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the benchmarks of %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// benchArgs are the test binary's flags for one round.
func (r *runner) benchArgs() []string {
	return []string{"-test.run=^$", "-test.bench=" + r.bench, "-test.benchmem", "-test.count=1", "-test.benchtime=" + r.benchtime, "-test.timeout=30m"}
}

func (r *runner) runNative(bin, pkg string, b *broker.Broker, args []string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(r.tmp, bin), args...)
	cmd.Dir = pkg
	cmd.Env = append(os.Environ(), benchBrokerEnv+"="+b.URL(), benchBrokerTCPEnv+"="+b.TCPURL())
	return runLogged(cmd, "native "+pkg)
}

// runWasm runs the WebAssembly benchmarks under Node, against a broker
// started here: nothing can listen inside WebAssembly. nodeOpts are more
// of Node's flags.
func (r *runner) runWasm(b *broker.Broker, args []string, nodeOpts string) ([]byte, error) {
	cmd := exec.Command(r.execWasm, append([]string{filepath.Join(r.tmp, "wasm.test")}, args...)...)
	if nodeOpts != "" {
		// What go_js_wasm_exec runs, with flags (such as --cpu-prof)
		// that NODE_OPTIONS refuses.
		nodeArgs := append([]string{"--stack-size=8192"}, strings.Fields(nodeOpts)...)
		nodeArgs = append(nodeArgs, filepath.Join(filepath.Dir(r.execWasm), "wasm_exec_node.js"), filepath.Join(r.tmp, "wasm.test"))
		cmd = exec.Command("node", append(nodeArgs, args...)...)
	}
	cmd.Dir = pkgs[0]
	cmd.Env = append(os.Environ(), brokerEnv+"="+b.URL())
	if opts := strings.TrimSpace(os.Getenv("NODE_OPTIONS") + " " + r.nodeFlag); opts != "" {
		cmd.Env = append(cmd.Env, "NODE_OPTIONS="+opts)
	}
	return runLogged(cmd, "wasm")
}

// runMQTTjs runs MQTT.js's benchmarks in Node over one transport.
// bench selects them (a regular expression; empty: all); nodeOpts are
// more of Node's flags.
func (r *runner) runMQTTjs(b *broker.Broker, transport, benchtime, bench, nodeOpts string) ([]byte, error) {
	args := strings.Fields(r.nodeFlag + " " + nodeOpts)
	args = append(args, filepath.Join(r.root, mqttjsScript), "-url", b.URL(), "-transport", transport, "-benchtime", benchtime)
	if bench != "" {
		args = append(args, "-bench", bench)
	}
	cmd := exec.Command("node", args...)
	cmd.Dir = r.root
	return runLogged(cmd, "MQTT.js-"+transport)
}

// runLogged runs cmd, echoing the benchmark lines as they come, and
// returns its output.
func runLogged(cmd *exec.Cmd, what string) ([]byte, error) {
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			out.WriteString(line + "\n")
			if strings.HasPrefix(line, "Benchmark") {
				fmt.Fprintf(os.Stderr, "  %s %s\n", what, line)
			}
		}
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	if err != nil || !passed(out.Bytes()) {
		return nil, fmt.Errorf("the %s benchmarks failed: %v\n%s", what, err, out.String())
	}
	return out.Bytes(), nil
}

func goEnv(name string) string {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		log.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// websocketFlag returns the Node flag that gives it a global WebSocket:
// Node 20 needs --experimental-websocket; from Node 22 it is there.
func websocketFlag() (string, error) {
	if exec.Command("node", "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() == nil {
		return "", nil
	}
	if exec.Command("node", "--experimental-websocket", "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() == nil {
		return "--experimental-websocket", nil
	}
	return "", fmt.Errorf("node is missing or has no WebSocket: the WebAssembly benchmarks need Node.js 20 or later")
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// machine describes where the benchmarks ran.
func machine() (cpu, goVersion, node, kernel string) {
	cpu = "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	cpu = fmt.Sprintf("%s, %d logical cores, %s/%s", cpu, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)
	if out, err := exec.Command("go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		node = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = strings.TrimSpace(string(out))
	}
	return
}

// passed reports whether a test binary's output ends its run with PASS.
func passed(out []byte) bool {
	for _, line := range bytes.Split(out, []byte("\n")) {
		if string(line) == "PASS" {
			return true
		}
	}
	return false
}

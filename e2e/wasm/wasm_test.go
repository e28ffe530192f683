//go:build !js

package wasm

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestMain fails the run if the test left a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The protocol with browser_e2e_js_test.go in package mqttgame.
const (
	brokerEnv   = "MQTTGAME_TEST_BROKER"
	restartLine = "mqttgame-wasm: restart the broker"
)

// TestMqttgameInWasm builds package mqttgame's tests for GOOS=js
// GOARCH=wasm, runs them under Node against an embedded broker, and
// checks that they passed, the end-to-end one included.
func TestMqttgameInWasm(t *testing.T) {
	goBin := filepath.Join(goEnv(t, "GOROOT"), "bin", "go")
	execWasm := filepath.Join(goEnv(t, "GOROOT"), "lib", "wasm", "go_js_wasm_exec")
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the WebAssembly tests run under Node.js 20 or later")
	}
	pkgDir, err := filepath.Abs("../../mqttgame")
	if err != nil {
		t.Fatal(err)
	}

	bin := filepath.Join(t.TempDir(), "mqttgame.test.wasm")
	build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	build.Dir = pkgDir
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the WebAssembly tests: %v\n%s", err, out)
	}

	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addr().String()
	defer func() { b.Close() }()

	run := exec.Command(execWasm, bin, "-test.v", "-test.count=1")
	run.Dir = pkgDir // the tests read ../README.md
	run.Env = append(os.Environ(), brokerEnv+"="+b.URL())
	if flag := websocketFlag(t, node); flag != "" {
		run.Env = append(run.Env, "NODE_OPTIONS="+strings.TrimSpace(os.Getenv("NODE_OPTIONS")+" "+flag))
	}
	var stderr bytes.Buffer
	run.Stderr = &stderr
	stdout, err := run.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	restarts := 0
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		if line == restartLine {
			restarts++
			b.Close()
			if b, err = broker.Start(&broker.Options{Addr: addr}); err != nil {
				t.Errorf("restarting the broker on %s: %v", addr, err)
			}
		}
	}
	err = run.Wait()
	if err != nil || t.Failed() {
		t.Fatalf("the WebAssembly tests failed: %v\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	passed := regexp.MustCompile(`(?m)^--- PASS: (\w+)`).FindAllStringSubmatch(out.String(), -1)
	names := map[string]bool{}
	for _, p := range passed {
		names[p[1]] = true
	}
	for _, want := range []string{"TestBrowserEndToEnd", "TestReadmeOptionsTable", "TestTopicAliasesIncoming"} {
		if !names[want] {
			t.Errorf("%s did not pass in WebAssembly:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "--- SKIP") {
		t.Errorf("a test skipped itself in WebAssembly:\n%s", out.String())
	}
	if restarts != 1 {
		t.Errorf("the broker was restarted %d times, want 1", restarts)
	}
	t.Logf("%d tests passed in WebAssembly", len(passed))
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// websocketFlag returns the Node flag that gives it a global WebSocket:
// Node 20 needs --experimental-websocket; from Node 22 it is there.
func websocketFlag(t *testing.T, node string) string {
	t.Helper()
	if exec.Command(node, "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() == nil {
		return ""
	}
	if exec.Command(node, "--experimental-websocket", "-e", "if (typeof WebSocket !== 'function') process.exit(1)").Run() == nil {
		return "--experimental-websocket"
	}
	t.Fatal("this Node.js has no WebSocket, even with --experimental-websocket: use Node.js 20 or later")
	return ""
}

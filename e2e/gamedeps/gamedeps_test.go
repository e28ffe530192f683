package gamedeps

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if the test left a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// game is a game's main package: it imports every package a game uses
// from the library.
const game = `package main

import (
	_ "github.com/mqttgame/mqttgame/mqttgame"
	_ "github.com/mqttgame/mqttgame/mqttgame/broker"
	_ "github.com/mqttgame/mqttgame/mqttgame/leaderboard"
	_ "github.com/mqttgame/mqttgame/mqttgame/presence"
)

func main() {}
`

// testOnly are the modules that only the suites in e2e use: none of them
// may reach a game's module graph.
var testOnly = []string{"chromedp", "cdproto", "gonum", "fpdf", "latex", "svgo"}

// TestGameModuleGraph makes a throw-away game module that requires this
// repository (replaced by its folder), runs go mod tidy, and checks that
// go list -m all and the game's go.sum name none of testOnly, and that
// they do name what the library builds on.
func TestGameModuleGraph(t *testing.T) {
	root := goCmd(t, "", "list", "-m", "-f", "{{.Dir}}", "github.com/mqttgame/mqttgame")
	dir := t.TempDir()
	mod := "module example.com/game\n\ngo " + strings.TrimPrefix(goCmd(t, "", "env", "GOVERSION"), "go") + "\n\n" +
		"require github.com/mqttgame/mqttgame v0.0.0-00010101000000-000000000000\n\n" +
		"replace github.com/mqttgame/mqttgame => " + root + "\n"
	write(t, filepath.Join(dir, "go.mod"), mod)
	write(t, filepath.Join(dir, "main.go"), game)

	goCmd(t, dir, "mod", "tidy")
	all := goCmd(t, dir, "list", "-m", "all")
	sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the game's go list -m all (%d modules):\n%s", len(strings.Split(all, "\n")), all)

	for _, name := range testOnly {
		if strings.Contains(all, name) {
			t.Errorf("the game's module graph holds %s:\n%s", name, all)
		}
		if strings.Contains(string(sum), name) {
			t.Errorf("the game's go.sum holds %s:\n%s", name, sum)
		}
	}
	for _, dep := range []string{"github.com/eclipse/paho.golang", "github.com/coder/websocket", "github.com/mochi-mqtt/server/v2"} {
		if !strings.Contains(all, dep+" ") {
			t.Errorf("the game's module graph lacks %s, which the library uses:\n%s", dep, all)
		}
	}
}

// goCmd runs the go command of the toolchain running the test, in dir
// (the test's own folder if empty), outside any workspace, and returns
// its trimmed standard output. -mod=mod lets go list -m all record the
// go.mod hash of every module in the graph in go.sum, as a game's go.sum
// comes to hold them.
func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func write(t *testing.T, name, text string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

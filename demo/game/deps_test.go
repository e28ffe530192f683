package game

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestNoEbitengine: the demo's logic, the client and its helpers build
// without Ebitengine; only the view and the drawing helper use it.
func TestNoEbitengine(t *testing.T) {
	gocmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	const module = "github.com/mqttgame/mqttgame/"
	for _, pkg := range []string{"demo/game", "mqttgame", "mqttgame/presence", "mqttgame/leaderboard", "mqttgame/overlay", "mqttgame/segment", "assets"} {
		out, err := exec.Command(gocmd, "list", "-deps", module+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		if strings.Contains(string(out), "hajimehoshi/ebiten") {
			t.Errorf("%s depends on Ebitengine", pkg)
		}
	}
}

// Package demotest holds what the demo's process-level tests (the
// desktop smoke test and the browser test) share: building the demo,
// collecting a process's output, a free address, and checking a
// screenshot of the game.
package demotest

import (
	"image"
	"image/color"
	"net"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/mqttgame/mqttgame/demo/game"
)

// GoTool returns the go command of the toolchain running the test.
func GoTool() string { return filepath.Join(runtime.GOROOT(), "bin", "go") }

// Root returns the repository's root: the directory of module
// github.com/mqttgame/mqttgame, whichever module the test is in (the
// tests that use this package run in the nested module e2e).
func Root(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(GoTool(), "list", "-m", "-f", "{{.Dir}}", "github.com/mqttgame/mqttgame").Output()
	if err != nil {
		t.Fatalf("finding the repository's root: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// BuildDemo builds the desktop binary into dir, as make run does, and
// returns its path. It builds in the repository's root, in the module
// whose go.sum holds the demo's dependencies.
func BuildDemo(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "demo")
	cmd := exec.Command(GoTool(), "build", "-o", bin, "./demo")
	cmd.Dir = Root(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("building the demo: %v\n%s", err, out)
	}
	return bin
}

// FreeAddr returns a loopback address ("127.0.0.1:port") that was free a
// moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Connected is the overlay's "connected" dot.
var Connected = color.RGBA{0x4c, 0xd1, 0x37, 0xff}

// CheckScreenshot checks that img, a screenshot of the game (called name
// in the failures), is the game's size, is not blank, and shows the other
// player's colour (their dot in the players panel) and the overlay's
// green "connected" dot.
func CheckScreenshot(t testing.TB, img image.Image, name, other string) {
	t.Helper()
	r := img.Bounds()
	if r.Dx() != game.ScreenWidth || r.Dy() != game.ScreenHeight {
		t.Errorf("%s is %dx%d, want %dx%d", name, r.Dx(), r.Dy(), game.ScreenWidth, game.ScreenHeight)
		return
	}
	colours := map[color.RGBA]int{}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			colours[rgba(img, x, y)]++
		}
	}
	most := 0
	for _, n := range colours {
		most = max(most, n)
	}
	if len(colours) < 200 || most > r.Dx()*r.Dy()/2 {
		t.Errorf("%s looks blank: %d colours, the commonest covers %d of %d pixels", name, len(colours), most, r.Dx()*r.Dy())
	}
	if n := near(img, game.ColorOf(other)); n < 20 {
		t.Errorf("%s shows %s's colour in %d pixels; want their dot in the players panel", name, other, n)
	}
	if n := near(img, Connected); n < 20 {
		t.Errorf("%s shows no green connected dot (%d pixels)", name, n)
	}
}

func rgba(img image.Image, x, y int) color.RGBA {
	r, g, b, a := img.At(x, y).RGBA()
	return color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), uint8(a >> 8)}
}

// near counts the pixels within 3 of c in each channel.
func near(img image.Image, c color.RGBA) int {
	r := img.Bounds()
	n := 0
	d := func(a, b uint8) bool { return a-b < 4 || b-a < 4 }
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := rgba(img, x, y)
			if d(p.R, c.R) && d(p.G, c.G) && d(p.B, c.B) {
				n++
			}
		}
	}
	return n
}

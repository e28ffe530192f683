//go:build !js

package browser_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/demotest"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
)

// buildWeb builds the browser version into dir/web as make web does:
// the page, the game compiled to WebAssembly, and the wasm_exec.js of the
// toolchain that compiled it.
func buildWeb(t *testing.T, dir string) string {
	t.Helper()
	web := filepath.Join(dir, "web")
	if err := os.MkdirAll(web, 0o755); err != nil {
		t.Fatal(err)
	}
	root := demotest.Root(t)
	build := exec.Command(demotest.GoTool(), "build", "-ldflags=-s -w", "-o", filepath.Join(web, "game.wasm"), "./demo")
	build.Dir = root
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the browser version: %v\n%s", err, out)
	}
	copyFile(t, filepath.Join(root, "web", "index.html"), filepath.Join(web, "index.html"))
	copyFile(t, filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"), filepath.Join(web, "wasm_exec.js"))
	// The compressed copy make web writes beside it: Chromium, which
	// accepts gzip, is sent this one, so the game it runs came through it.
	gzipFile(t, filepath.Join(web, "game.wasm"))
	return web
}

func gzipFile(t *testing.T, name string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.BestSpeed)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name+".gz", z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// hostingProcess is the demo with -headless: the embedded broker with
// the demo's access rules, and the browser version, on one address.
type hostingProcess struct {
	cmd    *exec.Cmd
	output syncbuf.Buffer
	done   chan error
}

// startHost starts the hosting process on addr, keeping its data (the
// names players claimed) in data, and waits until it serves.
func startHost(t *testing.T, bin, addr, data, web string) *hostingProcess {
	t.Helper()
	h := &hostingProcess{done: make(chan error, 1)}
	h.cmd = exec.Command(bin, "-headless", "-listen", addr, "-tcp", "", "-data", data, "-web", web)
	h.cmd.Stdout = &h.output
	h.cmd.Stderr = &h.output
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	t.Cleanup(func() {
		h.cmd.Process.Kill()
		<-h.done
		if t.Failed() {
			t.Logf("the hosting process said:\n%s", h.output.String())
		}
	})
	mqtttest.TickUntilWithin(t, waitLong, "the hosting process to serve", nil, func() bool {
		select {
		case err := <-h.done:
			h.done <- err
			t.Fatalf("the hosting process ended (%v):\n%s", err, h.output.String())
		default:
		}
		return strings.Contains(h.output.String(), "Still hosting")
	}, func() { t.Logf("the hosting process said:\n%s", h.output.String()) })
	return h
}

// stop ends the hosting process as Ctrl+C does, which closes the broker
// and every connection to it.
func (h *hostingProcess) stop(t *testing.T) {
	t.Helper()
	h.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-h.done:
		h.done <- err
		if err != nil {
			t.Fatalf("the hosting process ended with %v:\n%s", err, h.output.String())
		}
	case <-time.After(waitShort):
		t.Fatalf("the hosting process did not end within %v of SIGINT", waitShort)
	}
}

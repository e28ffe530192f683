//go:build !js

package browser_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
)

// findChromium returns the path of Debian's Chromium.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed; make deps-test installs it (Debian package chromium)")
	return ""
}

// startChromium starts headless Chromium with a fresh profile in dir and
// returns a context of its first tab, which stays on about:blank so that
// the browser outlives the tabs the test closes.
func startChromium(t *testing.T, chromium, dir string) context.Context {
	t.Helper()
	var output syncbuf.Buffer
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.CombinedOutput(&output),
		chromedp.Headless,
		// The page is the test's own; the sandbox cannot start as root or
		// without user namespaces, as in most containers.
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// Nothing reaches out to Google's services, which only slows the
		// start where they cannot be reached.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		// WebGL, which Ebitengine draws with, on the CPU.
		chromedp.Flag("use-angle", "swiftshader"),
		chromedp.Flag("enable-unsafe-swiftshader", true),
		// A page that is not in front must keep its pace: the game ticks
		// on animation frames.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(game.ScreenWidth, game.ScreenHeight),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("Chromium said:\n%s", output.String())
		}
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v\n%s", err, output.String())
	}
	return ctx
}

// page is a tab playing the game.
type page struct {
	t      *testing.T
	ctx    context.Context
	close  context.CancelFunc
	events syncbuf.Buffer // console lines and uncaught exceptions, for failures

	mu      sync.Mutex
	sockets map[network.RequestID]*socket
}

// socket is a WebSocket the page opened, as the browser's network
// events tell.
type socket struct {
	url        string
	status     int64 // of the handshake: 101 once open
	sent, recv int   // binary frames: MQTT packets
	closed     bool
}

// openPage opens url in a new tab of the browser.
func openPage(t *testing.T, browser context.Context, url string) *page {
	t.Helper()
	p := &page{t: t, sockets: make(map[network.RequestID]*socket)}
	p.ctx, p.close = chromedp.NewContext(browser, chromedp.WithListener(p.listen))
	t.Cleanup(func() {
		p.close()
		if t.Failed() {
			t.Logf("the page's console:\n%s", p.events.String())
		}
	})
	// The page's viewport is the game's size, whatever the browser's
	// window takes for itself.
	if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(game.ScreenWidth, game.ScreenHeight), chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return p
}

// listen runs in the tab's event loop: it notes the page's WebSockets
// and console.
func (p *page) listen(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventWebSocketCreated:
		p.sockets[ev.RequestID] = &socket{url: ev.URL}
	case *network.EventWebSocketHandshakeResponseReceived:
		if s := p.sockets[ev.RequestID]; s != nil && ev.Response != nil {
			s.status = ev.Response.Status
		}
	case *network.EventWebSocketFrameSent:
		if s := p.sockets[ev.RequestID]; s != nil && ev.Response != nil && ev.Response.Opcode == 2 {
			s.sent++
		}
	case *network.EventWebSocketFrameReceived:
		if s := p.sockets[ev.RequestID]; s != nil && ev.Response != nil && ev.Response.Opcode == 2 {
			s.recv++
		}
	case *network.EventWebSocketClosed:
		if s := p.sockets[ev.RequestID]; s != nil {
			s.closed = true
		}
	case *cdpruntime.EventConsoleAPICalled:
		var args []string
		for _, a := range ev.Args {
			args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
		}
		fmt.Fprintf(&p.events, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
	case *cdpruntime.EventExceptionThrown:
		fmt.Fprintf(&p.events, "exception: %s\n", (&chromedp.ExceptionError{ExceptionDetails: ev.ExceptionDetails}).Error())
	}
}

// openSockets counts the WebSockets to url whose handshake succeeded and
// that carried MQTT packets both ways.
func (p *page) openSockets(url string) (opened, carried int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sockets {
		if s.url == url && s.status == 101 {
			opened++
			if s.sent > 0 && s.recv > 0 {
				carried++
			}
		}
	}
	return opened, carried
}

// pageState is what the page's inspector, starCatch.state(), gives: what
// the page shows (package view, inspect_js.go).
type pageState struct {
	Phase     string
	Name      string
	Room      string
	ID        string
	Connected bool
	Broker    string
	Error     string
	JoinError string
	Players   []struct {
		Name   string
		Online bool
		Self   bool
	}
	Chat []struct {
		Name   string
		Text   string
		Self   bool
		System bool
	}
}

// player reports whether the players panel lists name, online or not as
// asked.
func (s *pageState) player(name string, online bool) bool {
	for _, p := range s.Players {
		if p.Name == name && p.Online == online {
			return true
		}
	}
	return false
}

// said reports whether the chat shows text said by name.
func (s *pageState) said(name, text string) bool {
	for _, l := range s.Chat {
		if !l.System && l.Name == name && l.Text == text {
			return true
		}
	}
	return false
}

// told returns how many of the game's own chat lines start with prefix.
func (s *pageState) told(prefix string) int {
	n := 0
	for _, l := range s.Chat {
		if l.System && strings.HasPrefix(l.Text, prefix) {
			n++
		}
	}
	return n
}

// state asks the page's inspector; it answers at the game's next tick,
// and not before the game has started.
func (p *page) state() (pageState, error) {
	ctx, cancel := context.WithTimeout(p.ctx, waitShort)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[pageState](`typeof starCatch === "undefined" ? null : starCatch.state()`, chromedp.EvalAwaitPromise))
}

// waitFor reads the page's state until cond holds.
func (p *page) waitFor(what string, d time.Duration, cond func(*pageState) bool) pageState {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		s, err := p.state()
		if err == nil && cond(&s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the page: waited %v for %s; last state: %+v, err %v", d, what, s, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// typeLine types text and Enter on the game's canvas, as a player does.
func (p *page) typeLine(text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitShort)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("canvas"), text+"\r")); err != nil {
		p.t.Fatalf("typing %q: %v", text, err)
	}
}

// screenshot captures the page as a PNG.
func (p *page) screenshot() []byte {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitShort)
	defer cancel()
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	return b
}

// closeTab closes the tab, as a player closing it does.
func (p *page) closeTab() {
	p.t.Helper()
	if err := chromedp.Cancel(p.ctx); err != nil {
		p.t.Fatalf("closing the tab: %v", err)
	}
}

//go:build !js

package browser_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"image/png"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/internal/demotest"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
)

var update = flag.Bool("update", false, "copy the page's screenshot to docs/browser.png")

// TestMain fails the run if the test left a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The waits are bounds, not pauses: generous, because the machine may be
// busy with other work (a page that draws with the CPU, and its Go
// runtime, then get little of it), and a passing run waits no longer.
const (
	waitLong  = 2 * time.Minute  // builds, Chromium's start, the first load of the game, its /join
	waitShort = 45 * time.Second // anything else
	room      = "chromium"
)

// TestWebBuildInChromium loads the browser version, served by the demo's
// hosting process, in headless Chromium, and plays it against a native
// Go player in the same room. What the page does is read from the page
// itself: its WebSockets (the browser's network events) and what it
// shows (its inspector, starCatch.state()); chat lines are typed on its
// canvas. The test checks that the page's client connects over
// WebSocket, appears in the native player's roster, receives the native
// player's chat line and answers it, comes back by itself after the
// hosting process restarts and chats both ways again, and that closing
// the tab marks the player offline for the native player, through the
// player's will. It saves a screenshot of the page.
func TestWebBuildInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the demo twice and runs a browser")
	}
	chromium := findChromium(t)
	dir := t.TempDir()
	web := buildWeb(t, dir)
	bin := demotest.BuildDemo(t, dir)

	addr := demotest.FreeAddr(t)
	data := filepath.Join(dir, "data")
	host := startHost(t, bin, addr, data, web)
	site, brokerURL := "http://"+addr+"/", "ws://"+addr+"/mqtt"

	gopher := joinNative(t, site, brokerURL, room, "Gopher")
	gopher.waitFor("connecting", waitShort, gopher.mq.IsConnected)

	browser := startChromium(t, chromium, dir)
	const name = "Wasm"
	webID := game.PlayerID(name)
	pg := openPage(t, browser, site+"?"+url.Values{"name": {name}, "room": {room}}.Encode())

	// The page's client connects over WebSocket, to its own origin.
	st := pg.waitFor("joining the room and connecting", waitLong, func(s *pageState) bool {
		return s.Phase == "lobby" && s.Connected
	})
	if st.Broker != brokerURL || st.Name != name || st.Room != room || st.ID != webID {
		t.Errorf("the page connected as %q (%s) in %q to %s; want %q (%s) in %q to %s", st.Name, st.ID, st.Room, st.Broker, name, webID, room, brokerURL)
	}
	if opened, _ := pg.openSockets(brokerURL); opened != 1 {
		t.Errorf("the page opened %d WebSockets to %s, want 1", opened, brokerURL)
	}

	// It appears in presence, and sees the native player there.
	gopher.waitFor("the page's player online in the roster", waitShort, func() bool { return gopher.sees(webID, true) })
	pg.waitFor("Gopher online in the players panel", waitShort, func(s *pageState) bool {
		return s.player("Gopher", true) && s.player(name, true)
	})

	// Chat, both ways. The page's player published its presence after its
	// subscriptions (the client holds publishes back until then), so it
	// hears what Gopher says from now on.
	gopher.say("hello from Go")
	pg.waitFor("Gopher's line in the chat", waitShort, func(s *pageState) bool { return s.said("Gopher", "hello from Go") })
	pg.typeLine("hello from the browser")
	gopher.waitFor("the page's line", waitShort, func() bool { return gopher.hasHeard(webID, "hello from the browser") })
	pg.waitFor("its own line in the chat", waitShort, func(s *pageState) bool { return s.said(name, "hello from the browser") })
	if _, carried := pg.openSockets(brokerURL); carried != 1 {
		t.Errorf("%d WebSockets carried MQTT packets both ways, want 1", carried)
	}

	// The hosting process restarts on the same address; the page's client
	// comes back by itself.
	host.stop(t)
	pg.waitFor("the lost connection to show", waitShort, func(s *pageState) bool {
		return !s.Connected && s.told("Lost the connection") == 1
	})
	gopher.waitFor("the lost connection", waitShort, func() bool { return !gopher.mq.IsConnected() })
	host = startHost(t, bin, addr, data, web)
	pg.waitFor("connecting again by itself", waitShort, func(s *pageState) bool {
		return s.Connected && s.told("Connected again.") == 1
	})
	gopher.waitFor("connecting again", waitShort, gopher.mq.IsConnected)
	if opened, _ := pg.openSockets(brokerURL); opened < 2 {
		t.Errorf("after the restart the page had opened %d WebSockets to %s, want a new one", opened, brokerURL)
	}

	// Chat, both ways, on the new broker. The page speaks first: its line
	// leaves once its subscriptions are back, so Gopher's answer finds them.
	pg.typeLine("still here after the restart")
	gopher.waitFor("the page's line after the restart", waitShort, func() bool { return gopher.hasHeard(webID, "still here after the restart") })
	gopher.say("welcome back")
	pg.waitFor("Gopher's answer after the restart", waitShort, func(s *pageState) bool {
		return s.said("Gopher", "welcome back") && s.player("Gopher", true)
	})

	shot := pg.screenshot()
	savePicture(t, shot)
	checkPicture(t, shot, "Gopher")

	// Closing the tab ends its connection without a word; the broker
	// publishes the player's will once the will delay has passed.
	closed := time.Now()
	pg.closeTab()
	gopher.waitFor("the page's player offline in the roster", waitShort, func() bool { return gopher.sees(webID, false) })
	took := time.Since(closed)
	if took < presence.DefaultWillDelay-time.Second {
		t.Errorf("the player went offline %v after the tab closed: sooner than the will delay (%v), so not through the will", took, presence.DefaultWillDelay)
	}
	t.Logf("offline for the native player %v after the tab closed (will delay %v)", took.Round(10*time.Millisecond), presence.DefaultWillDelay)
	checkRetainedOffline(t, brokerURL, webID)
}

// checkRetainedOffline: a spectator arriving later reads the player's
// offline record, retained by the broker.
func checkRetainedOffline(t *testing.T, brokerURL, id string) {
	t.Helper()
	c := mqtttest.NewClient(t, &mqttgame.Options{Brokers: []string{brokerURL}})
	topic := game.TopicsOf(room).Presence + "/" + id
	c.Subscribe(topic, mqttgame.AtLeastOnce)
	c.Connect()
	mqtttest.TickUntilWithin(t, waitShort, "the retained presence record on "+topic, c.Update, func() bool { return c.OnMessage(topic) }, nil)
	m, _ := c.Message(topic)
	var r presence.Record
	if err := json.Unmarshal(m.Payload, &r); err != nil || r.Online || !m.Retain {
		t.Errorf("the retained record on %s: %s (retained %v); want an offline record", topic, m.Payload, m.Retain)
	}
}

// savePicture keeps the screenshot in the run's artifacts folder
// (MQTTGAME_ARTIFACTS, else testdata/artifacts of the repository), and
// with -update as the README's picture.
func savePicture(t *testing.T, png []byte) {
	t.Helper()
	dir := os.Getenv("MQTTGAME_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(demotest.Root(t), "testdata", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "browser.png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the page: %s", path)
	if *update {
		if err := os.WriteFile(filepath.Join(demotest.Root(t), "docs", "browser.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkPicture: the screenshot is the game's size and is not blank (the
// WebGL canvas drew), and shows the other player's colour (their dot in
// the players panel) and the overlay's green "connected" dot.
func checkPicture(t *testing.T, b []byte, other string) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the screenshot: %v", err)
	}
	demotest.CheckScreenshot(t, img, "the screenshot", other)
}

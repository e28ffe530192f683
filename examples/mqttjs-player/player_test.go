//go:build !js

// The test of the MQTT.js player: it joins a room of the Go demo, hosted
// as make run hosts it, and the two play together.
package player_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/demo/host"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
)

// event is a line the player writes.
type event struct {
	Ev       string `json:"ev"`
	Name     string `json:"name"`
	From     string `json:"from"`
	Text     string `json:"text"`
	Complete bool   `json:"complete"`
	Message  string `json:"message"`
	Top      []struct {
		Name  string `json:"name"`
		Score int    `json:"score"`
	} `json:"top"`
}

// player is the MQTT.js player, run by Node.
type player struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncbuf.Buffer
	mu     sync.Mutex
	events []event
}

func startPlayer(t *testing.T, site, room, name string) *player {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the MQTT.js player needs Node.js 20")
	}
	if _, err := os.Stat("../../node_modules/mqtt/package.json"); err != nil {
		t.Fatal("MQTT.js is not installed: run `npm ci` at the repository root (make test does)")
	}
	script, _ := filepath.Abs("player.mjs")
	p := &player{t: t, stderr: new(syncbuf.Buffer)}
	p.cmd = exec.Command(node, script, "--site", site, "--room", room, "--name", name)
	p.cmd.Stderr = p.stderr
	p.stdin, _ = p.cmd.StdinPipe()
	stdout, _ := p.cmd.StdoutPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			var e event
			if err := json.Unmarshal(s.Bytes(), &e); err != nil {
				e = event{Ev: "error", Message: "unreadable line: " + s.Text()}
			}
			p.mu.Lock()
			p.events = append(p.events, e)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-done
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("MQTT.js player: events %+v\nstderr:\n%s", p.events, p.stderr.String())
		}
	})
	return p
}

func (p *player) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("MQTT.js player: %v", err)
	}
}

// saw reports whether the player wrote an event matching ok; an error
// event fails the test.
func (p *player) saw(ok func(event) bool) bool {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.events {
		if e.Ev == "error" {
			p.t.Fatalf("MQTT.js player: %s", e.Message)
		}
		if ok(e) {
			return true
		}
	}
	return false
}

// TestMQTTjsPlayerJoinsAGoRoom: the MQTT.js player, written from the
// protocol document alone, and a Go player meet in a room of a host with
// the demo's access rules: each sees the other online, they chat both
// ways, the MQTT.js player's score lands on the Go player's board, and
// when it quits, the Go player sees it go.
func TestMQTTjsPlayerJoinsAGoRoom(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // where the Go player keeps its key
	t.Setenv("HOME", t.TempDir())
	h, err := host.Start(host.Options{Listen: "127.0.0.1:0", Rules: game.AccessRules()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	const room, jsName = "den", "Zoë js"
	g, err := game.New(game.Config{Broker: h.BrokerURL, Name: "Gopher", Room: room, AutoJoin: true, Credentials: h.Credentials})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	tick := func() { g.Update(&game.Input{}) }
	report := func() {
		t.Logf("Go player: phase %d, status %+v, players %+v", g.Phase(), g.Status(), g.AppendPlayers(nil))
	}
	until := func(what string, cond func() bool) { t.Helper(); mqtttest.TickUntil(t, what, tick, cond, report) }
	goSees := func(name string, online bool) bool {
		return slices.ContainsFunc(g.AppendPlayers(nil), func(p game.PlayerRow) bool { return p.Name == name && p.Online == online })
	}
	until("the Go player in the room", func() bool { return g.Phase() == game.PhaseLobby && g.Client().IsConnected() })

	js := startPlayer(t, h.WebURL, room, jsName)
	until("each sees the other", func() bool {
		return goSees(jsName, true) && js.saw(func(e event) bool { return e.Ev == "online" && e.Name == "Gopher" })
	})

	if err := g.SendChat("hello, js"); err != nil {
		t.Fatal(err)
	}
	js.send("say hello, Go")
	until("chat both ways", func() bool {
		heard := slices.ContainsFunc(g.Chat().Lines, func(l game.ChatLine) bool { return l.Name == jsName && l.Text == "hello, Go" })
		return heard && js.saw(func(e event) bool { return e.Ev == "chat" && e.From == "Gopher" && e.Text == "hello, js" })
	})

	until("the MQTT.js player's board loaded", func() bool { return js.saw(func(e event) bool { return e.Ev == "board" && e.Complete }) })
	js.send("score 42")
	until("its score on the Go player's board", func() bool {
		return slices.ContainsFunc(g.AppendTop(nil), func(r game.ScoreRow) bool { return r.Name == jsName && r.Score == 42 })
	})
	js.send("cursor 120 300")
	until("its pointer on the Go player's screen", func() bool {
		return slices.ContainsFunc(g.AppendCursors(nil), func(c game.Cursor) bool { return c.Name == jsName && c.X == 120 && c.Y == 300 })
	})

	js.send("quit")
	until("it leaves, and the Go player sees it go", func() bool {
		return goSees(jsName, false) && js.saw(func(e event) bool { return e.Ev == "left" })
	})
}

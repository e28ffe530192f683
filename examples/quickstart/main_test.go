//go:build !js

package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	demo "github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/demo/host"
)

// TestQuickStartAgainstDemoHost runs the README's quick start against the
// broker make run hosts, with its access rules, and checks what the
// window would show: its own hello, come back from the broker, and no
// error.
func TestQuickStartAgainstDemoHost(t *testing.T) {
	h, err := host.Start(host.Options{Listen: "127.0.0.1:0", Rules: demo.AccessRules()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	mq, err := start(h.BrokerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	g := &game{mq: mq}
	untilShown(t, g, "only the hello", func(text string) bool {
		if strings.Contains(text, "error") {
			t.Fatalf("the window shows an error: %q", text)
		}
		return text == "chat: hello from Go!"
	})
}

// untilShown runs the game's ticks as they come, until what its window
// shows passes ok, for at most 30 seconds.
func untilShown(t *testing.T, g *game, what string, ok func(string) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for !ok(g.text()) {
		if err := g.mq.Wait(ctx); err != nil {
			t.Fatalf("the window shows %q, want %s", g.text(), what)
		}
		g.Update()
	}
}

// TestQuickStartShowsErrors: a program that cannot reach its broker says
// so in its window, instead of an empty chat line.
func TestQuickStartShowsErrors(t *testing.T) {
	mq, err := start("ws://127.0.0.1:1/mqtt") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	g := &game{mq: mq}
	untilShown(t, g, "the error", func(text string) bool { return strings.Contains(text, "error: ") })
	if !strings.Contains(g.text(), "connecting to ws://127.0.0.1:1/mqtt") {
		t.Fatalf("the window shows %q, want it to say where it is connecting", g.text())
	}
}

// Command demo is Star Catch, the demo game of mqttgame: pick a name and
// a room, see who is online, chat, and catch falling stars for the
// room's high-score table, over MQTT.
//
// Run with no flags, it hosts an embedded broker on 127.0.0.1:8080 (and
// plain MQTT on 1883) and serves the browser version there, or, if
// another copy hosts already, joins it. See -h for the flags.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/demo/host"
	"github.com/mqttgame/mqttgame/demo/view"
	"github.com/mqttgame/mqttgame/mqttgame"
)

func main() {
	var (
		brokerURL  = flag.String("broker", "", "connect to this MQTT v5 broker (ws://, wss://, mqtt://, mqtts://) instead of hosting or joining the embedded one")
		listen     = flag.String("listen", "127.0.0.1:8080", "where the embedded broker serves WebSocket and the browser version: hosted there if free, joined if another copy hosts it (\":8080\" lets the LAN in)")
		tcp        = flag.String("tcp", "127.0.0.1:1883", "plain MQTT listener of a hosted broker, for tools such as mosquitto_sub (\"\" for none)")
		data       = flag.String("data", "data", "folder where a hosted broker keeps the high scores across restarts")
		web        = flag.String("web", "web", "folder of the browser version a hosted broker serves (built by make web)")
		name       = flag.String("name", "", "your nickname; given, the game skips the name screen")
		room       = flag.String("room", "lobby", "the room to join; players in the same room meet")
		dataloss   = flag.String("dataloss", "latest", "data-loss mode of the live pointers: latest (each shows where it is now) or fifo (every position, in order, one per tick)")
		headless   = flag.Bool("headless", false, "open no window: only host the broker and the browser version")
		bot        = flag.Bool("bot", false, "let the computer play: it chats, moves its pointer and plays rounds")
		roundLen   = flag.Duration("round", 30*time.Second, "length of a round of the mini-game")
		screenshot = flag.String("screenshot", "", "save a PNG of the window to this file once another player is online (for tests and docs)")
		shotAfter  = flag.Duration("screenshot-after", 3*time.Second, "with -screenshot: how long after joining to wait at least")
		verbose    = flag.Bool("v", false, "log the MQTT client's and the broker's protocol detail")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Star Catch, the mqttgame demo: chat, presence, live pointers and high scores over MQTT.\n\n"+
			"Usage: %s [flags]\n\n"+
			"With no flags it hosts a broker on 127.0.0.1:8080 (and 1883), or joins the copy that does,\n"+
			"and opens a window. Run it twice to play with yourself; open the printed URL in a browser\n"+
			"to join from there.\n\nFlags:\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// The broker's own lines are for debugging it.
	brokerLevel := slog.LevelError
	if *verbose {
		brokerLevel = slog.LevelDebug
	}
	brokerLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: brokerLevel}))
	mode, err := mqttgame.ParseDataLoss(*dataloss)
	if err != nil {
		fail(err)
	}
	if *name == "" {
		*name = host.PageParam("name")
	}
	if r := host.PageParam("room"); r != "" {
		*room = r
	}

	h, err := host.Start(host.Options{
		Broker: *brokerURL, Listen: *listen, TCP: *tcp, DataDir: *data, WebDir: *web,
		Persist: []string{game.PersistFilter}, Rules: game.AccessRules(),
	}, brokerLog)
	if err != nil {
		fail(err)
	}
	defer h.Close()
	h.Announce(os.Stdout)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if ok, why := host.HasDisplay(); *headless || !ok {
		if !*headless {
			fmt.Printf("No window could be opened (%s).\n", why)
		}
		if err := h.Serve(ctx, os.Stdout); err != nil {
			fail(err)
		}
		return
	}

	suggestion := *name
	if suggestion == "" {
		suggestion = game.SuggestName(uint64(time.Now().UnixNano()))
	}
	g, err := game.New(game.Config{
		Broker: h.BrokerURL, Name: suggestion, Room: *room, AutoJoin: *name != "" || *bot,
		DataLoss: mode, RoundTicks: int(roundLen.Seconds() * game.TicksPerSecond),
		Note: h.Role(), Logger: log, Credentials: h.Credentials,
	})
	if err != nil {
		fail(err)
	}
	opts := view.Options{Screenshot: *screenshot, ScreenshotAfter: *shotAfter, Logger: log}
	if *bot {
		opts.Bot = game.NewBot(uint64(time.Now().UnixNano()))
	}
	v, err := view.New(g, opts)
	if err != nil {
		fail(err)
	}
	v.SetupWindow()
	go func() {
		<-ctx.Done()
		v.RequestQuit()
	}()
	if err := ebiten.RunGame(v); err != nil {
		fmt.Printf("No window could be opened: %v\n", err)
		if err := h.Serve(ctx, os.Stdout); err != nil {
			fail(err)
		}
	}
	closeWithin(g, 2*time.Second)
}

// closeWithin closes the game's client, waiting at most d: on the way
// out, a broker that is gone must not hold the process.
func closeWithin(g *game.Game, d time.Duration) {
	done := make(chan struct{})
	go func() {
		g.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "demo:", err)
	os.Exit(1)
}

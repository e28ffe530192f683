// Quickstart is the README's quick start: a game that joins a chat room.
package main

import (
	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// The broker that make run hosts; its sandbox/ topics are open to anyone.
const broker = "ws://localhost:8080/mqtt"

type game struct{ mq *mqttgame.Client }

func (g *game) Update() error {
	g.mq.Update() // first thing every tick: shows what arrived
	return nil
}

func (g *game) Draw(screen *ebiten.Image) { ebitenutil.DebugPrint(screen, g.text()) }

// text is what the window shows: the chat's last line, and what went
// wrong, if anything did.
func (g *game) text() string {
	s := "chat: " + g.mq.LastMessage("sandbox/chat")
	if !g.mq.IsConnected() {
		s += "\n(connecting to " + g.mq.Broker() + ")"
	}
	if err := g.mq.Err(); err != nil {
		s += "\nerror: " + err.Error()
	}
	return s
}

func (g *game) Layout(int, int) (int, int) { return 320, 240 }

// start connects and says hello once. Subscribing and publishing work
// before the connection is up: both wait for it, and the subscription
// comes back by itself after every reconnect.
func start(url string) (*mqttgame.Client, error) {
	mq, err := mqttgame.New(&mqttgame.Options{Brokers: []string{url}})
	if err != nil {
		return nil, err
	}
	mq.Connect()
	mq.Subscribe("sandbox/chat", mqttgame.AtLeastOnce)
	mq.PublishString("sandbox/chat", "hello from Go!", mqttgame.AtLeastOnce, false)
	return mq, nil
}

func main() {
	mq, err := start(broker)
	if err != nil {
		panic(err)
	}
	if err := ebiten.RunGame(&game{mq: mq}); err != nil {
		panic(err)
	}
}

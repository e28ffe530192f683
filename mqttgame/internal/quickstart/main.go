// Quickstart is the README's quick start: a game that joins a chat room.
package main

import (
	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"

	"github.com/mqttgame/mqttgame/mqttgame"
)

type game struct{ mq *mqttgame.Client }

func (g *game) Update() error {
	g.mq.Update() // first thing every tick: shows what arrived
	if g.mq.JustConnected() {
		g.mq.Subscribe("chat/lobby", mqttgame.AtLeastOnce)
		g.mq.PublishString("chat/lobby", "hello from Go!", mqttgame.AtLeastOnce, false)
	}
	return nil
}

func (g *game) Draw(screen *ebiten.Image) {
	ebitenutil.DebugPrint(screen, "chat: "+g.mq.LastMessage("chat/lobby"))
}

func (g *game) Layout(int, int) (int, int) { return 320, 240 }

func main() {
	mq, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost:8080/mqtt"}})
	if err != nil {
		panic(err)
	}
	mq.Connect()
	if err := ebiten.RunGame(&game{mq: mq}); err != nil {
		panic(err)
	}
}

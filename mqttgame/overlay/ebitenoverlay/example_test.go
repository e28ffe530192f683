package ebitenoverlay_test

import (
	"github.com/hajimehoshi/ebiten/v2"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/overlay"
	"github.com/mqttgame/mqttgame/mqttgame/overlay/ebitenoverlay"
)

// game shows the connection status in its top-left corner.
type game struct {
	mq     *mqttgame.Client
	status *overlay.Monitor
	drawer ebitenoverlay.Drawer
}

func (g *game) Update() error {
	g.mq.Update()
	g.status.Update()
	return nil
}

func (g *game) Draw(screen *ebiten.Image) {
	// … the game's own drawing, then the overlay on top:
	g.drawer.Draw(screen, g.status.Status(), &ebitenoverlay.Options{X: 8, Y: 8})
}

func (g *game) Layout(int, int) (int, int) { return 640, 360 }

// A game that keeps the connection status on screen. (Not run: it opens
// a window.)
func Example() {
	mq, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost:8080/mqtt"}})
	if err != nil {
		panic(err)
	}
	mq.Connect()
	g := &game{mq: mq, status: overlay.New(mq, nil)}
	if err := ebiten.RunGame(g); err != nil {
		panic(err)
	}
}

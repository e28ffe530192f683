package ebitenoverlay_test

import (
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"github.com/mqttgame/mqttgame/mqttgame/overlay"
	"github.com/mqttgame/mqttgame/mqttgame/overlay/ebitenoverlay"
)

// TestBoxSize: the box fits the status's lines, and MaxWidth wraps a long
// error onto more lines instead of widening the box.
func TestBoxSize(t *testing.T) {
	dst := ebiten.NewImage(640, 360)
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	s := overlay.Status{Connected: true, Broker: "ws://127.0.0.1:8080/mqtt"}
	var d ebitenoverlay.Drawer
	opts := &ebitenoverlay.Options{Now: func() time.Time { return now }}
	w, h := d.Draw(dst, s, opts)
	if h != 2*16+2*6 {
		t.Fatalf("two lines: height %v, want %v", h, 2*16+2*6)
	}
	s.Err, s.ErrAt = "no broker answers at that address", now
	w2, h2 := d.Draw(dst, s, opts)
	if h2 != h+16 || w2 <= w {
		t.Fatalf("with an error: %vx%v, want one line more and wider than %vx%v", w2, h2, w, h)
	}
	opts.MaxWidth = 200
	w3, h3 := d.Draw(dst, s, opts)
	if w3 > 200 || h3 <= h2 {
		t.Fatalf("wrapped at 200: %vx%v, want at most 200 wide and taller than %v", w3, h3, h2)
	}
}

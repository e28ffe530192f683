package assets_test

import (
	"testing"

	"github.com/mqttgame/mqttgame/assets"
)

// TestEveryAssetLoads: each asset the demo names decodes, and is not
// empty.
func TestEveryAssetLoads(t *testing.T) {
	for _, name := range []string{"star.png", "comet.png", "rock.png", "basket.png", "cursor.png", "icon.png"} {
		img := assets.Image(name)
		b := img.Bounds()
		opaque := 0
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if _, _, _, a := img.At(x, y).RGBA(); a > 0x8000 {
					opaque++
				}
			}
		}
		if opaque < b.Dx()*b.Dy()/10 {
			t.Errorf("%s: only %d of %d pixels are visible", name, opaque, b.Dx()*b.Dy())
		}
	}
	for _, name := range []string{"Go-Regular.ttf", "Go-Bold.ttf"} {
		if f := assets.Font(name); len(f) < 1000 || string(f[:4]) != "\x00\x01\x00\x00" {
			t.Errorf("%s is not a TrueType font", name)
		}
	}
}

// Generate writes the demo's assets: it copies the Go fonts and their
// licence from the golang.org/x/image module, and draws the images.
// Run it from the module root with "go run ./assets/internal/generate";
// its output is committed, so building the demo needs no step of its own.
package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/image/vector"
)

func main() {
	log.SetFlags(0)
	copyFonts()
	write("images/star.png", star(48, 5, 0.45, color.RGBA{0xff, 0xd2, 0x3f, 0xff}, color.RGBA{0xff, 0xf4, 0xb8, 0xff}))
	write("images/comet.png", star(48, 4, 0.35, color.RGBA{0x5c, 0xe1, 0xff, 0xff}, color.RGBA{0xe0, 0xfa, 0xff, 0xff}))
	write("images/rock.png", rock(44))
	write("images/basket.png", basket(96, 40))
	write("images/cursor.png", cursor(24))
	write("images/icon.png", star(64, 5, 0.45, color.RGBA{0xff, 0xd2, 0x3f, 0xff}, color.RGBA{0xff, 0xf4, 0xb8, 0xff}))
}

func copyFonts() {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/image").Output()
	if err != nil {
		log.Fatalf("finding golang.org/x/image: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "font", "gofont", "ttfs")
	for from, to := range map[string]string{
		"Go-Regular.ttf": "fonts/Go-Regular.ttf",
		"Go-Bold.ttf":    "fonts/Go-Bold.ttf",
		"README":         "fonts/LICENSE",
	} {
		b, err := os.ReadFile(filepath.Join(dir, from))
		if err != nil {
			log.Fatal(err)
		}
		writeBytes(to, b)
	}
}

func write(name string, img image.Image) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		log.Fatal(err)
	}
	writeBytes(name, buf.Bytes())
}

func writeBytes(name string, b []byte) {
	path := filepath.Join("assets", name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s (%d bytes)", path, len(b))
}

// fill rasterises a closed polygon into an alpha mask.
func fill(size int, pts [][2]float64) *image.Alpha {
	r := vector.NewRasterizer(size, size)
	r.MoveTo(float32(pts[0][0]), float32(pts[0][1]))
	for _, p := range pts[1:] {
		r.LineTo(float32(p[0]), float32(p[1]))
	}
	r.ClosePath()
	mask := image.NewAlpha(image.Rect(0, 0, size, size))
	r.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})
	return mask
}

// star draws a star of n points with a soft glow, lit from the top left.
func star(size, n int, inner float64, body, light color.RGBA) image.Image {
	c := float64(size) / 2
	outer := c * 0.78
	var pts [][2]float64
	for i := range 2 * n {
		a := -math.Pi/2 + float64(i)*math.Pi/float64(n)
		r := outer
		if i%2 == 1 {
			r = outer * inner
		}
		pts = append(pts, [2]float64{c + r*math.Cos(a), c + r*math.Sin(a)})
	}
	mask := fill(size, pts)
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
			d := math.Hypot(dx, dy) / c
			glow := math.Max(0, 1-d) * 0.55
			a := float64(mask.AlphaAt(x, y).A) / 255
			// Lighter towards the top left.
			t := math.Max(0, math.Min(1, 0.5-(dx+dy)/(2*c)))
			col := mix(body, light, t*0.8)
			alpha := a + (1-a)*glow*glow
			img.SetNRGBA(x, y, color.NRGBA{col.R, col.G, col.B, uint8(255 * math.Min(1, alpha))})
		}
	}
	return img
}

// rock draws a lumpy grey stone.
func rock(size int) image.Image {
	c := float64(size) / 2
	var pts [][2]float64
	bumps := []float64{1, 0.86, 0.95, 0.8, 0.97, 0.88, 1, 0.84, 0.93}
	for i, b := range bumps {
		a := float64(i) * 2 * math.Pi / float64(len(bumps))
		r := c * 0.85 * b
		pts = append(pts, [2]float64{c + r*math.Cos(a), c + r*math.Sin(a)})
	}
	mask := fill(size, pts)
	dark, lite := color.RGBA{0x5a, 0x55, 0x60, 0xff}, color.RGBA{0xa8, 0xa2, 0xb0, 0xff}
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			a := mask.AlphaAt(x, y).A
			if a == 0 {
				continue
			}
			t := math.Max(0, math.Min(1, 0.75-(float64(x+y))/(2*float64(size))))
			// A few darker speckles.
			if (x*7+y*13)%23 == 0 {
				t *= 0.4
			}
			col := mix(dark, lite, t)
			img.SetNRGBA(x, y, color.NRGBA{col.R, col.G, col.B, a})
		}
	}
	return img
}

// basket draws a trapezoid basket with a woven band.
func basket(w, h int) image.Image {
	size := max(w, h)
	pts := [][2]float64{{2, 4}, {float64(w) - 2, 4}, {float64(w) - 12, float64(h) - 2}, {12, float64(h) - 2}}
	mask := fill(size, pts)
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	wood, band := color.RGBA{0xc2, 0x7c, 0x3a, 0xff}, color.RGBA{0x8a, 0x4e, 0x1e, 0xff}
	for y := range h {
		for x := range w {
			a := mask.AlphaAt(x, y).A
			if a == 0 {
				continue
			}
			col := wood
			if y < 9 || (x/8+y/8)%2 == 0 && y > 14 {
				col = band
			}
			img.SetNRGBA(x, y, color.NRGBA{col.R, col.G, col.B, a})
		}
	}
	return img
}

// cursor draws a white arrow with a dark rim, for tinting with each
// player's colour.
func cursor(size int) image.Image {
	s := float64(size)
	arrow := [][2]float64{{1, 1}, {1, s * 0.85}, {s * 0.3, s * 0.62}, {s * 0.5, s - 1}, {s * 0.62, s * 0.94}, {s * 0.44, s * 0.58}, {s * 0.75, s * 0.55}}
	rim := fill(size, arrow)
	var in [][2]float64
	cx, cy := s*0.35, s*0.55
	for _, p := range arrow {
		in = append(in, [2]float64{cx + (p[0]-cx)*0.72, cy + (p[1]-cy)*0.8})
	}
	body := fill(size, in)
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			a := rim.AlphaAt(x, y).A
			if a == 0 {
				continue
			}
			v := uint8(0x20 + uint16(body.AlphaAt(x, y).A)*(0xff-0x20)/255)
			img.SetNRGBA(x, y, color.NRGBA{v, v, v, a})
		}
	}
	return img
}

func mix(a, b color.RGBA, t float64) color.RGBA {
	l := func(x, y uint8) uint8 { return uint8(float64(x) + (float64(y)-float64(x))*t) }
	return color.RGBA{l(a.R, b.R), l(a.G, b.G), l(a.B, b.B), 0xff}
}

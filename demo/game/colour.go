package game

import (
	"fmt"
	"hash/fnv"
	"image/color"
	"math"
)

// ColorOf derives a player's colour from their name: the same name has
// the same colour everywhere, and it is bright enough to read on the
// game's dark background.
func ColorOf(name string) color.RGBA {
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := h.Sum32()
	hue := float64(sum%360) / 360
	sat := 0.55 + float64(sum>>9%20)/100  // 0.55..0.74
	val := 0.88 + float64(sum>>17%12)/100 // 0.88..0.99
	return hsv(hue, sat, val)
}

func hsv(h, s, v float64) color.RGBA {
	i := math.Floor(h * 6)
	f := h*6 - i
	p, q, t := v*(1-s), v*(1-f*s), v*(1-(1-f)*s)
	var r, g, b float64
	switch int(i) % 6 {
	case 0:
		r, g, b = v, t, p
	case 1:
		r, g, b = q, v, p
	case 2:
		r, g, b = p, v, t
	case 3:
		r, g, b = p, q, v
	case 4:
		r, g, b = t, p, v
	default:
		r, g, b = v, p, q
	}
	return color.RGBA{uint8(r*255 + 0.5), uint8(g*255 + 0.5), uint8(b*255 + 0.5), 0xff}
}

// Hex writes a colour as "#rrggbb".
func Hex(c color.RGBA) string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// ParseHex reads "#rrggbb"; ok is false for anything else.
func ParseHex(s string) (c color.RGBA, ok bool) {
	if len(s) != 7 || s[0] != '#' {
		return c, false
	}
	var v [3]uint8
	for i := range v {
		hi, ok1 := hexValue(s[1+2*i])
		lo, ok2 := hexValue(s[2+2*i])
		if !ok1 || !ok2 {
			return c, false
		}
		v[i] = hi<<4 | lo
	}
	return color.RGBA{v[0], v[1], v[2], 0xff}, true
}

func hexValue(c byte) (uint8, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

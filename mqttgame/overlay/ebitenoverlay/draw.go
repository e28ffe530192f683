// Package ebitenoverlay draws an overlay.Status with Ebitengine: a small
// translucent box with a coloured dot (green connected, amber trying,
// red stopped) and the status lines.
//
// It is the only part of the overlay that imports Ebitengine; the logic
// lives in package overlay.
package ebitenoverlay

import (
	"image/color"
	"strings"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/ebitenutil"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/mqttgame/mqttgame/mqttgame/overlay"
)

// Colours of the status dot.
var (
	ColorConnected  = color.RGBA{0x4c, 0xd1, 0x37, 0xff}
	ColorConnecting = color.RGBA{0xff, 0xb3, 0x00, 0xff}
	ColorStopped    = color.RGBA{0xe0, 0x3c, 0x31, 0xff}
)

// Options says where and how to draw.
type Options struct {
	// X and Y are the top-left corner of the box, in dst's pixels.
	X, Y float64
	// Face is the font. Defaults to nil: Ebitengine's debug font.
	Face text.Face
	// LineHeight is the distance between lines. Defaults to the face's
	// line height, or 16 for the debug font.
	LineHeight float64
	// Padding is the space inside the box. Defaults to 6.
	Padding float64
	// Background fills the box. Defaults to translucent black.
	Background color.Color
	// Text colours the lines. Defaults to white.
	Text color.Color
	// MaxWidth, if positive, wraps lines wider than it at spaces.
	// Defaults to 0: no wrapping.
	MaxWidth float64
	// Now says how long ago the last error was. Defaults to time.Now.
	Now func() time.Time
}

// Drawer draws statuses, reusing its buffers from frame to frame.
type Drawer struct {
	lines   []string
	wrapped []string
}

// Draw draws s on dst and returns the size of the box it drew. Call it
// from the game's Draw, last, so that it stays on top. opts may be nil.
func (d *Drawer) Draw(dst *ebiten.Image, s overlay.Status, opts *Options) (width, height float64) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Padding == 0 {
		o.Padding = 6
	}
	if o.LineHeight == 0 {
		o.LineHeight = 16
		if o.Face != nil {
			m := o.Face.Metrics()
			o.LineHeight = m.HAscent + m.HDescent + m.HLineGap
		}
	}
	if o.Background == nil {
		o.Background = color.RGBA{0, 0, 0, 0xb0}
	}
	if o.Text == nil {
		o.Text = color.White
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	d.lines = s.AppendLines(d.lines[:0], now())
	if o.MaxWidth > 0 {
		d.wrapped = d.wrapped[:0]
		for _, l := range d.lines {
			d.wrapped = wrap(d.wrapped, l, o.Face, o.MaxWidth-2*o.Padding-o.LineHeight)
		}
		d.lines, d.wrapped = d.wrapped, d.lines
	}

	dot := o.LineHeight * 0.6
	textX := o.X + o.Padding + dot + o.Padding
	for _, l := range d.lines {
		width = max(width, advance(l, o.Face))
	}
	width += textX - o.X + o.Padding
	height = float64(len(d.lines))*o.LineHeight + 2*o.Padding
	vector.FillRect(dst, float32(o.X), float32(o.Y), float32(width), float32(height), o.Background, false)

	dotColor := ColorStopped
	switch {
	case s.Connected:
		dotColor = ColorConnected
	case s.Connecting:
		dotColor = ColorConnecting
	}
	vector.FillCircle(dst, float32(o.X+o.Padding+dot/2), float32(o.Y+o.Padding+o.LineHeight/2), float32(dot/2), dotColor, true)

	for i, l := range d.lines {
		y := o.Y + o.Padding + float64(i)*o.LineHeight
		if o.Face == nil {
			ebitenutil.DebugPrintAt(dst, l, int(textX), int(y))
			continue
		}
		op := &text.DrawOptions{}
		op.GeoM.Translate(textX, y)
		op.ColorScale.ScaleWithColor(o.Text)
		text.Draw(dst, l, o.Face, op)
	}
	return width, height
}

func advance(s string, face text.Face) float64 {
	if face == nil {
		return float64(6 * len([]rune(s))) // the debug font is 6 pixels wide
	}
	return text.Advance(s, face)
}

// wrap appends s to dst as lines no wider than width, broken at spaces
// (or anywhere, for a word wider than width).
func wrap(dst []string, s string, face text.Face, width float64) []string {
	for advance(s, face) > width {
		cut, space := 0, -1
		for i := range s {
			if i > 0 && advance(s[:i], face) > width {
				break
			}
			cut = i
			if s[i] == ' ' {
				space = i
			}
		}
		if space > 0 {
			cut = space
		}
		if cut == 0 {
			break
		}
		dst = append(dst, s[:cut])
		s = strings.TrimLeft(s[cut:], " ")
	}
	return append(dst, s)
}

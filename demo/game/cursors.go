package game

import (
	"image/color"
	"strconv"
	"strings"
)

// Cursor timing, in ticks.
const (
	// CursorEvery caps how often a player's pointer is published: at
	// most 15 times a second, at QoS 0, only when it moved.
	CursorEvery = TicksPerSecond / 15
	// cursorFade is how long an idle pointer stays fully visible, and
	// cursorGone when it disappears.
	cursorFade = 3 * TicksPerSecond
	cursorGone = 5 * TicksPerSecond
)

// Cursor is another player's pointer as the view draws it.
type Cursor struct {
	ID    string
	Name  string
	Color color.RGBA
	X, Y  float64 // eased towards the last position received
	Alpha float64 // fades when the pointer has not moved for a while
}

// remoteCursor is what the game keeps of a pointer.
type remoteCursor struct {
	x, y       float64 // shown
	tx, ty     float64 // last received
	lastTick   int
	everShown  bool
	received   uint64 // positions received
	lastUpdate int
}

func (c *remoteCursor) ease() {
	if !c.everShown {
		c.x, c.y, c.everShown = c.tx, c.ty, true
		return
	}
	c.x += (c.tx - c.x) * 0.35
	c.y += (c.ty - c.y) * 0.35
}

// encodeCursor writes a pointer position as "x,y".
func encodeCursor(x, y int) string { return strconv.Itoa(x) + "," + strconv.Itoa(y) }

// decodeCursor reads "x,y" within the screen.
func decodeCursor(s string) (x, y int, ok bool) {
	xs, ys, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	x, err1 := strconv.Atoi(xs)
	y, err2 := strconv.Atoi(ys)
	if err1 != nil || err2 != nil || x < 0 || y < 0 || x >= ScreenWidth || y >= ScreenHeight {
		return 0, 0, false
	}
	return x, y, true
}

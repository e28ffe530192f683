package game

import (
	"math"
	"math/rand/v2"
	"strconv"
)

// The mini-game: catch falling stars in a basket for 30 seconds. Stars
// are worth a point times the combo multiplier, comets five, and rocks
// cost three points and break the combo, as does a star that falls past.

// Size of the playing field, in logical pixels.
const (
	FieldWidth  = 464
	FieldHeight = 360
)

// TicksPerSecond is the game's tick rate (Ebitengine's default).
const TicksPerSecond = 60

// DefaultRoundTicks is the length of a round: 30 seconds.
const DefaultRoundTicks = 30 * TicksPerSecond

// Basket geometry, in field pixels.
const (
	BasketWidth  = 96
	BasketHeight = 40
	BasketY      = FieldHeight - BasketHeight - 4 // top of the basket
	basketSpeed  = 8
)

// ItemKind is what falls.
type ItemKind uint8

// What can fall.
const (
	Star ItemKind = iota
	Comet
	Rock
)

// Item is one falling thing. X, Y is its centre, in field pixels.
type Item struct {
	Kind   ItemKind
	X, Y   float64
	VY     float64
	Radius float64
	Spin   float64 // radians, for drawing
}

// Popup is a short-lived "+3" where something was caught.
type Popup struct {
	X, Y float64
	Text string
	Good bool
	Age  int // ticks
}

// PopupTicks is how long a popup lives.
const PopupTicks = 45

// Round is one round of the mini-game. It is pure logic: Update takes
// the player's input for one tick.
type Round struct {
	Tick, Length int
	Score        int
	Combo        int // catches in a row
	BestCombo    int
	Caught       int
	BasketX      float64 // centre of the basket
	Items        []Item
	Popups       []Popup

	rng       *rand.Rand
	nextSpawn int
}

// NewRound starts a round of length ticks (DefaultRoundTicks if 0) with
// the given random seed.
func NewRound(seed uint64, length int) *Round {
	if length <= 0 {
		length = DefaultRoundTicks
	}
	return &Round{
		Length:    length,
		BasketX:   FieldWidth / 2,
		rng:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		nextSpawn: 20,
	}
}

// IsOver reports whether the round has ended.
func (r *Round) IsOver() bool { return r.Tick >= r.Length }

// SecondsLeft is the time left, rounded up.
func (r *Round) SecondsLeft() int {
	return (r.Length - r.Tick + TicksPerSecond - 1) / TicksPerSecond
}

// Multiplier is what a star is worth now.
func (r *Round) Multiplier() int { return min(1+r.Combo/5, 4) }

// RoundInput moves the basket: towards the pointer while it is over the
// field, or with the keys.
type RoundInput struct {
	Left, Right bool
	PointerX    float64 // field pixels
	PointerIn   bool    // the pointer is over the field
}

// Update advances the round by one tick.
func (r *Round) Update(in RoundInput) {
	if r.IsOver() {
		return
	}
	r.Tick++
	switch {
	case in.Left || in.Right:
		if in.Left {
			r.BasketX -= basketSpeed
		}
		if in.Right {
			r.BasketX += basketSpeed
		}
	case in.PointerIn:
		// Follow the pointer quickly but not instantly, so it looks like motion.
		r.BasketX += (in.PointerX - r.BasketX) * 0.5
	}
	r.BasketX = math.Max(BasketWidth/2, math.Min(FieldWidth-BasketWidth/2, r.BasketX))

	r.nextSpawn--
	if r.nextSpawn <= 0 {
		r.spawn()
	}
	kept := r.Items[:0]
	for _, it := range r.Items {
		it.Y += it.VY
		it.Spin += 0.05 * it.VY
		if r.catches(it) {
			r.caught(it)
			continue
		}
		if it.Y-it.Radius > FieldHeight {
			if it.Kind != Rock {
				r.Combo = 0 // a dropped star breaks the combo
			}
			continue
		}
		kept = append(kept, it)
	}
	r.Items = kept

	popups := r.Popups[:0]
	for _, p := range r.Popups {
		p.Age++
		p.Y -= 0.6
		if p.Age < PopupTicks {
			popups = append(popups, p)
		}
	}
	r.Popups = popups
}

// progress runs from 0 to 1 over the round; things fall faster and more
// often as it goes.
func (r *Round) progress() float64 { return float64(r.Tick) / float64(r.Length) }

func (r *Round) spawn() {
	p := r.progress()
	r.nextSpawn = int(30-18*p) + r.rng.IntN(10)
	it := Item{Kind: Star, Radius: 16, VY: 2.2 + 2.5*p + r.rng.Float64()}
	switch roll := r.rng.Float64(); {
	case roll < 0.12:
		it.Kind, it.Radius, it.VY = Comet, 16, it.VY*1.6
	case roll < 0.30:
		it.Kind, it.Radius = Rock, 18
	}
	it.X = it.Radius + r.rng.Float64()*(FieldWidth-2*it.Radius)
	it.Y = -it.Radius
	r.Items = append(r.Items, it)
}

// catches reports whether the basket's opening holds the item this tick.
func (r *Round) catches(it Item) bool {
	bottom := it.Y + it.Radius*0.5
	if bottom < BasketY || bottom > BasketY+BasketHeight/2 {
		return false
	}
	return math.Abs(it.X-r.BasketX) < BasketWidth/2
}

func (r *Round) caught(it Item) {
	var points int
	switch it.Kind {
	case Star:
		points = r.Multiplier()
		r.Combo++
	case Comet:
		points = 5 * r.Multiplier()
		r.Combo++
	case Rock:
		points = -3
		r.Combo = 0
	}
	r.Score = max(0, r.Score+points)
	if it.Kind != Rock {
		r.Caught++
	}
	r.BestCombo = max(r.BestCombo, r.Combo)
	text := strconv.Itoa(points)
	if points > 0 {
		text = "+" + text
	}
	r.Popups = append(r.Popups, Popup{X: it.X, Y: BasketY - 10, Text: text, Good: points > 0})
}

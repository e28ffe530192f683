package game

import (
	"testing"
)

// TestRoundLasts30Seconds: a round ends after exactly 30 seconds of ticks
// and counts down the seconds.
func TestRoundLasts30Seconds(t *testing.T) {
	r := NewRound(1, 0)
	if r.SecondsLeft() != 30 {
		t.Fatalf("a new round has %d s left", r.SecondsLeft())
	}
	for i := 1; i < DefaultRoundTicks; i++ {
		r.Update(RoundInput{})
		if r.IsOver() {
			t.Fatalf("over after %d ticks", i)
		}
	}
	r.Update(RoundInput{})
	if !r.IsOver() || r.SecondsLeft() != 0 {
		t.Fatalf("not over after %d ticks", DefaultRoundTicks)
	}
	tick := r.Tick
	r.Update(RoundInput{})
	if r.Tick != tick {
		t.Fatal("an ended round goes on")
	}
}

// TestScoring: what falls into the basket counts; stars raise the combo
// and its multiplier, rocks cost points and break it, a dropped star
// breaks it too, and the score never goes below zero.
func TestScoring(t *testing.T) {
	drop := func(r *Round, kind ItemKind, x float64) {
		r.Items = append(r.Items, Item{Kind: kind, X: x, Y: BasketY - 20, VY: 4, Radius: 16})
		for range 40 {
			r.Update(RoundInput{PointerX: r.BasketX, PointerIn: true})
		}
	}
	testCases := []struct {
		name      string
		play      func(r *Round)
		score     int
		combo     int
		caught    int
		bestCombo int
	}{
		{"one star", func(r *Round) { drop(r, Star, r.BasketX) }, 1, 1, 1, 1},
		{"comet", func(r *Round) { drop(r, Comet, r.BasketX) }, 5, 1, 1, 1},
		{"rock on nothing", func(r *Round) { drop(r, Rock, r.BasketX) }, 0, 0, 0, 0},
		{"star then rock", func(r *Round) { drop(r, Star, r.BasketX); drop(r, Rock, r.BasketX) }, 0, 0, 1, 1},
		{"missed star", func(r *Round) { drop(r, Star, r.BasketX); drop(r, Star, r.BasketX+BasketWidth) }, 1, 0, 1, 1},
		{"combo multiplier", func(r *Round) {
			for range 6 {
				drop(r, Star, r.BasketX)
			}
		}, 1 + 1 + 1 + 1 + 1 + 2, 6, 6, 6},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRound(1, 0)
			r.nextSpawn = 1 << 30 // only what the test drops
			tc.play(r)
			if r.Score != tc.score || r.Combo != tc.combo || r.Caught != tc.caught || r.BestCombo != tc.bestCombo {
				t.Fatalf("score %d combo %d caught %d best combo %d; want %d %d %d %d",
					r.Score, r.Combo, r.Caught, r.BestCombo, tc.score, tc.combo, tc.caught, tc.bestCombo)
			}
		})
	}
}

// TestBasket: the keys move the basket, the pointer pulls it, and it
// stays inside the field.
func TestBasket(t *testing.T) {
	r := NewRound(1, 0)
	x := r.BasketX
	r.Update(RoundInput{Right: true})
	if r.BasketX != x+basketSpeed {
		t.Fatalf("Right moved the basket from %v to %v", x, r.BasketX)
	}
	for range 200 {
		r.Update(RoundInput{Left: true})
	}
	if r.BasketX != BasketWidth/2 {
		t.Fatalf("the basket left the field: %v", r.BasketX)
	}
	for range 30 {
		r.Update(RoundInput{PointerX: 300, PointerIn: true})
	}
	if r.BasketX < 299 || r.BasketX > 301 {
		t.Fatalf("the basket did not follow the pointer: %v", r.BasketX)
	}
}

// TestFallsAreRepeatable: the same seed drops the same things, and
// things keep falling over the whole round.
func TestFallsAreRepeatable(t *testing.T) {
	a, b := NewRound(42, 0), NewRound(42, 0)
	spawned := 0
	for !a.IsOver() {
		n := len(a.Items)
		a.Update(RoundInput{})
		b.Update(RoundInput{})
		if len(a.Items) > n {
			spawned++
		}
		if len(a.Items) != len(b.Items) || len(a.Items) > 0 && a.Items[0] != b.Items[0] {
			t.Fatalf("tick %d: the rounds differ", a.Tick)
		}
	}
	if spawned < 60 {
		t.Fatalf("only %d things fell in a round", spawned)
	}
}

// TestBotScores: the bot, steering the basket, scores in a round.
func TestBotScores(t *testing.T) {
	r := NewRound(7, 0)
	b := NewBot(1)
	for !r.IsOver() {
		x := b.target(r)
		r.Update(RoundInput{PointerX: x, PointerIn: true})
	}
	if r.Score < 20 {
		t.Fatalf("the bot scored %d in a round", r.Score)
	}
}

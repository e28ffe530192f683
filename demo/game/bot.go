package game

import "math"

// Bot plays the game by itself, for demonstrations and tests: it moves
// its pointer around, says hello, and plays rounds, steering the basket
// to the nearest star and away from rocks.
type Bot struct {
	said   int
	idle   int
	phaseX float64
	lines  []string
}

// NewBot returns a bot; the seed varies the path of its pointer.
func NewBot(seed uint64) *Bot {
	return &Bot{
		phaseX: float64(seed%628) / 100,
		lines:  []string{"hello!", "anyone up for a round?", "catch the blue comets, they are worth 5 × combo", "rocks cost 3 points #careful", "gg"},
	}
}

// Input makes up the bot's input for the game's next tick.
func (b *Bot) Input(g *Game) Input {
	var in Input
	t := float64(g.Tick())
	switch g.Phase() {
	case PhaseJoin:
		in.Enter = true
		return in
	case PhaseLobby:
	default:
		return in
	}
	in.MouseIn = true
	if r := g.Round(); r != nil {
		target := b.target(r)
		in.MouseX = FieldPanel.X + int(target)
		in.MouseY = FieldPanel.Y + BasketY + BasketHeight/2
		return in
	}
	// Wander over the screen in a slow loop.
	in.MouseX = ScreenWidth/2 + int(320*math.Sin(t/70+b.phaseX))
	in.MouseY = ScreenHeight/2 + int(180*math.Sin(t/45+b.phaseX*2))
	if !g.Status().Connected {
		return in
	}
	// Between rounds: say something, then play again.
	b.idle++
	switch {
	case b.idle == 20 && b.said < len(b.lines):
		in.Chars = []rune(b.lines[b.said])
		in.Enter = true
		b.said++
	case b.idle > 90:
		in.Click = true
		in.MouseX, in.MouseY = PlayButton.X+PlayButton.W/2, PlayButton.Y+PlayButton.H/2
		b.idle = 0
	}
	return in
}

// target picks where the basket should be: under the lowest star or
// comet it can still reach, away from rocks about to land.
func (b *Bot) target(r *Round) float64 {
	best, bestY := r.BasketX, -1e9
	for _, it := range r.Items {
		if it.Kind == Rock || it.Y > BasketY {
			continue
		}
		reach := (BasketY - it.Y) / it.VY * basketSpeed * 3
		if math.Abs(it.X-r.BasketX) > reach+BasketWidth/2 {
			continue
		}
		if it.Y > bestY {
			best, bestY = it.X, it.Y
		}
	}
	for _, it := range r.Items {
		if it.Kind == Rock && it.Y > BasketY-120 && it.Y < BasketY && math.Abs(it.X-best) < BasketWidth/2+it.Radius {
			if it.X > best {
				best = it.X - BasketWidth/2 - it.Radius - 4
			} else {
				best = it.X + BasketWidth/2 + it.Radius + 4
			}
		}
	}
	return best
}

package game

import "time"

// Input is what the player did in one tick, gathered by the view from
// Ebitengine (or made up by a test or the bot). The game logic reads
// nothing else, so it runs without a window.
type Input struct {
	// Now is the wall clock of the tick; the zero value means time.Now().
	Now time.Time

	Chars     []rune // typed this tick (ebiten.AppendInputChars)
	Backspace bool   // pressed this tick, or repeating
	Enter     bool
	Tab       bool
	Escape    bool

	Left, Right bool // held: move the basket

	// Scroll moves the chat history: positive is back in time, in lines.
	Scroll int

	MouseX, MouseY int  // in the game's logical pixels
	MouseIn        bool // the pointer is over the window
	Click          bool // the left button was pressed this tick
}

func (in *Input) now() time.Time {
	if in.Now.IsZero() {
		return time.Now()
	}
	return in.Now
}

package game

// Rect is a rectangle in the game's logical pixels.
type Rect struct{ X, Y, W, H int }

// Contains reports whether the point is inside r.
func (r Rect) Contains(x, y int) bool {
	return x >= r.X && x < r.X+r.W && y >= r.Y && y < r.Y+r.H
}

// The screen's layout, shared by the logic (what a click hits) and the
// view (where to draw).
const (
	ScreenWidth  = 960
	ScreenHeight = 600
)

// Where things are on the lobby screen and on the join screen.
var (
	TopBar       = Rect{0, 0, ScreenWidth, 36}                                                        // title, room, name, players online
	PlayersPanel = Rect{12, 48, 200, 360}                                                             // who is online
	FieldPanel   = Rect{224, 48, FieldWidth, FieldHeight}                                             // the mini-game
	BoardPanel   = Rect{700, 48, 248, 360}                                                            // the top 10
	ChatPanel    = Rect{12, 420, 676, 168}                                                            // chat history and input
	StatusPanel  = Rect{700, 420, 248, 168}                                                           // the connection overlay
	PlayButton   = Rect{FieldPanel.X + FieldWidth/2 - 70, FieldPanel.Y + FieldHeight/2 + 30, 140, 40} // starts a round

	JoinPanel  = Rect{ScreenWidth/2 - 220, 150, 440, 300}                           // the join form
	NameField  = Rect{JoinPanel.X + 30, JoinPanel.Y + 96, 380, 36}                  // the nickname
	RoomField  = Rect{JoinPanel.X + 30, JoinPanel.Y + 172, 380, 36}                 // the room
	JoinButton = Rect{JoinPanel.X + JoinPanel.W/2 - 70, JoinPanel.Y + 232, 140, 40} // joins
)

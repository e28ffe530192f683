// Package game is the logic of the demo: name and room, the lobby with
// live presence, chat, live pointers, the star-catching mini-game with its
// shared high scores, and the connection status. It does not import
// Ebitengine: the view turns the player's input into an Input each tick
// and draws what the Game exposes, and tests drive a Game with no window,
// against a real broker.
package game

import (
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/leaderboard"
	"github.com/mqttgame/mqttgame/mqttgame/overlay"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
)

// Config sets up a Game.
type Config struct {
	// Broker is the broker's URL. Required.
	Broker string
	// Name and Room fill the join screen. With AutoJoin and a Name, the
	// game joins at once.
	Name, Room string
	AutoJoin   bool
	// DataLoss is the client's default data-loss mode, which the live
	// pointers use: LatestWins shows each pointer where it is now, FIFO
	// replays every position. Chat always uses FIFO. Defaults to LatestWins.
	DataLoss mqttgame.DataLoss
	// WillDelay is the presence will delay. Defaults to presence's.
	WillDelay time.Duration
	// RoundTicks is the length of a mini-game round. Defaults to 30 s.
	RoundTicks int
	// Note is shown under the connection status (e.g. "hosting the broker").
	Note string
	// Seed makes the rounds' random falls repeatable; 0 picks one.
	Seed uint64
	// Logger receives what happens (joins, leaves, records) at Info, and
	// the client's own log. Defaults to discarding it.
	Logger *slog.Logger
	// ClientOptions, if set, may change the client's options before it is
	// made (tests shorten the reconnect delay).
	ClientOptions func(*mqttgame.Options)
	// Credentials, if set, gets the user name and password the player
	// connects with, for a broker that only lets each player write their
	// own presence, score and pointer. It runs on its own goroutine, as
	// it may take a network round trip; an error (the name is taken)
	// shows on the join screen. Defaults to nil: connect anonymously.
	Credentials func(playerID string) (username, password string, err error)
}

// Phase is where the player is.
type Phase uint8

// The phases of a game.
const (
	PhaseJoin    Phase = iota // picking a name and a room
	PhaseLobby                // in the room
	PhaseLeaving              // quitting, waiting for the broker to hear it
	PhaseLeft                 // gone
)

// FadeOffline is how long a player who went offline stays in the list,
// fading.
const FadeOffline = 60 * time.Second

// resultTicks is how long a round's result stays on the field.
const resultTicks = 6 * TicksPerSecond

// PlayerRow is a line of the players panel.
type PlayerRow struct {
	Name   string
	Color  color.RGBA
	Online bool
	Self   bool
	Since  time.Time
	Alpha  float64 // 1, or fading for a player gone offline
}

// ScoreRow is a line of the leaderboard.
type ScoreRow struct {
	Rank  int
	Name  string
	Color color.RGBA
	Score int
	Date  time.Time
	Self  bool
	Fresh bool // just set: the view highlights it
}

// Result is the outcome of the player's last round.
type Result struct {
	Score   int
	Best    int // the player's best as of the end of the round
	NewBest bool
	Caught  int
	Combo   int
}

// Game is one player's game. Update and every other method must be
// called from one goroutine (the game loop's).
type Game struct {
	cfg   Config
	log   *slog.Logger
	phase Phase
	tick  int
	now   time.Time

	// The join screen.
	nameInput, roomInput []rune
	focusRoom            bool
	joinErr              string
	joining              chan credentials // the answer of Config.Credentials, while waiting

	// In a room.
	name, room, id string
	color          color.RGBA
	topics         Topics
	mq             *mqttgame.Client
	roster         *presence.Roster
	board          *leaderboard.Board
	status         *overlay.Monitor
	chat           Chat
	cursors        map[string]*remoteCursor
	sentX, sentY   int
	sentTick       int
	cursorsSent    uint64
	round          *Round
	rounds         uint64
	result         Result
	resultTick     int
	hasResult      bool
	everConnected  bool
	scores         map[string]int       // last best seen per player, to spot records
	fresh          map[string]time.Time // records set while we watch, until when to highlight

	msgs   []mqttgame.Message
	events []presence.Event
	top    []leaderboard.Entry
	online []presence.Player
	cevts  []mqttgame.Event
}

// credentials is what Config.Credentials answered.
type credentials struct {
	name, room         string
	username, password string
	err                error
}

// New returns a game on its join screen (or in its room, with AutoJoin).
func New(cfg Config) (*Game, error) {
	if cfg.Broker == "" {
		return nil, errors.New("game: no broker URL")
	}
	if cfg.Room == "" {
		cfg.Room = "lobby"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	g := &Game{
		cfg:       cfg,
		log:       cfg.Logger,
		nameInput: []rune(clean(cfg.Name, MaxNameLength)),
		roomInput: []rune(clean(cfg.Room, MaxRoomLength)),
		now:       time.Now(),
	}
	if cfg.AutoJoin && len(g.nameInput) > 0 {
		if err := g.join(); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// Update runs one tick with the player's input.
func (g *Game) Update(in *Input) {
	g.tick++
	g.now = in.now()
	switch g.phase {
	case PhaseJoin:
		g.updateJoin(in)
	case PhaseLobby:
		g.updateNetwork()
		if g.phase == PhaseLobby {
			g.updateLobby(in)
		}
	case PhaseLeaving:
		g.updateNetwork()
		if g.phase != PhaseLeaving { // taken over by another window meanwhile
			g.phase = PhaseLeft
			return
		}
		g.cevts = g.mq.AppendEvents(g.cevts[:0])
		for _, e := range g.cevts {
			if e.Kind == mqttgame.EventDisconnected {
				g.phase = PhaseLeft
			}
		}
	}
}

func (g *Game) updateJoin(in *Input) {
	if g.joining != nil {
		select {
		case c := <-g.joining:
			g.joining = nil
			if c.err == nil {
				c.err = g.enter(c.name, c.room, c.username, c.password)
			}
			if c.err != nil {
				g.joinErr = c.err.Error()
			}
		default:
		}
		return // the screen waits for the answer
	}
	field := &g.nameInput
	if g.focusRoom {
		field = &g.roomInput
	}
	limit := MaxNameLength
	if g.focusRoom {
		limit = MaxRoomLength
	}
	for _, r := range in.Chars {
		if len(*field) < limit && unicode.IsPrint(r) {
			*field = append(*field, r)
		}
	}
	if in.Backspace && len(*field) > 0 {
		*field = (*field)[:len(*field)-1]
	}
	if in.Click {
		switch {
		case NameField.Contains(in.MouseX, in.MouseY):
			g.focusRoom = false
		case RoomField.Contains(in.MouseX, in.MouseY):
			g.focusRoom = true
		case JoinButton.Contains(in.MouseX, in.MouseY):
			in.Enter = true
		}
	}
	if in.Tab {
		g.focusRoom = !g.focusRoom
	}
	if in.Enter {
		if err := g.join(); err != nil {
			g.joinErr = err.Error()
		}
	}
}

// join checks the name and room and enters the room, once the player's
// credentials are known if the broker wants some.
func (g *Game) join() error {
	name := strings.TrimSpace(string(g.nameInput))
	room := strings.TrimSpace(string(g.roomInput))
	switch {
	case name == "":
		return errors.New("type a name first")
	case room == "":
		return errors.New("type a room name (or keep \"lobby\")")
	}
	if g.cfg.Credentials == nil {
		return g.enter(name, room, "", "")
	}
	g.joinErr = ""
	g.joining = make(chan credentials, 1)
	go func(ch chan<- credentials) {
		user, pass, err := g.cfg.Credentials(PlayerID(name))
		ch <- credentials{name: name, room: room, username: user, password: pass, err: err}
	}(g.joining)
	return nil
}

// Joining reports whether the game waits for the player's credentials.
func (g *Game) Joining() bool { return g.joining != nil }

// enter enters the room: the client, its will, the roster, the board and
// the chat, then Connect.
func (g *Game) enter(name, room, username, password string) error {
	g.name, g.room, g.id = name, room, PlayerID(name)
	g.color = ColorOf(name)
	g.topics = TopicsOf(room)

	opts := mqttgame.Options{
		Brokers:  []string{g.cfg.Broker},
		ClientID: ClientID(room, name),
		// The session of the same player's other window, or of this one
		// before a reload, is taken over rather than ended: its will is
		// not published, and SessionPresent tells this window.
		ResumeSession: true,
		Username:      username,
		Password:      password,
		DataLoss:      g.cfg.DataLoss,
		Logger:        g.log,
	}
	pcfg := presence.Config{Topic: g.topics.Presence, ID: g.id, Name: name, Color: Hex(g.color), WillDelay: g.cfg.WillDelay}
	if err := presence.Prepare(&opts, pcfg); err != nil {
		return err
	}
	if g.cfg.ClientOptions != nil {
		g.cfg.ClientOptions(&opts)
	}
	mq, err := mqttgame.New(&opts)
	if err != nil {
		return err
	}
	roster, err := presence.New(mq, pcfg)
	if err != nil {
		mq.Close()
		return err
	}
	board, err := leaderboard.New(mq, g.topics.Scores, 10)
	if err != nil {
		mq.Close()
		return err
	}
	// The board answers newcomers' asks with this player's best, from
	// the start, not only after a first score this session.
	board.Claim(g.id)
	if err := mq.SubscribeWith(g.topics.Chat+"/+", mqttgame.SubscribeOptions{QoS: chatPublishQoS, DataLoss: mqttgame.FIFO}); err != nil {
		mq.Close()
		return err
	}
	// The pointers use the client's default mode: the -dataloss flag.
	if err := mq.SubscribeWith(g.topics.Cursors+"/+", mqttgame.SubscribeOptions{QoS: mqttgame.AtMostOnce, NoLocal: true}); err != nil {
		mq.Close()
		return err
	}
	g.mq, g.roster, g.board = mq, roster, board
	g.status = overlay.New(mq, &overlay.Options{Note: g.cfg.Note, Now: func() time.Time { return g.now }})
	g.cursors = make(map[string]*remoteCursor)
	g.scores = make(map[string]int)
	g.fresh = make(map[string]time.Time)
	g.sentX, g.sentY = -1, -1
	g.phase = PhaseLobby
	g.joinErr = ""
	g.log.Info("joining", "name", name, "room", room, "broker", g.cfg.Broker)
	return mq.Connect()
}

func (g *Game) updateNetwork() {
	g.mq.Update()
	g.cevts = g.mq.AppendEvents(g.cevts[:0])
	for _, e := range g.cevts {
		switch {
		case e.Kind == mqttgame.EventConnected && e.SessionPresent && !g.everConnected:
			// The broker had this player's session: another window's,
			// which it has just pushed off, or this one's before a reload.
			g.system(fmt.Sprintf("%s was already in this room (another window, or before a reload): this window takes the place.", g.name))
		case e.Kind == mqttgame.EventConnectionLost && errors.Is(e.Err, mqttgame.ReasonSessionTakenOver):
			g.takenOver()
			return
		}
	}
	g.roster.Update()
	g.board.Update()
	g.status.Update()

	if g.mq.JustConnected() {
		if !g.everConnected {
			g.system(fmt.Sprintf("You joined room %q. Say hello!", g.room))
		} else {
			g.system("Connected again.")
		}
		g.everConnected = true
	}
	if g.mq.JustDisconnected() && g.phase == PhaseLobby {
		g.system("Lost the connection to the broker; trying again…")
	}

	g.events = g.roster.AppendEvents(g.events[:0])
	for _, e := range g.events {
		p := e.Player
		switch e.Kind {
		case presence.Joined:
			g.log.Info("player online", "name", p.Name, "self", p.Self)
			if !e.Replay && !p.Self {
				g.system(NameOf(p.ID) + " joined.")
			}
		case presence.Left:
			g.log.Info("player offline", "name", p.Name, "self", p.Self)
			if !p.Self {
				g.system(NameOf(p.ID) + " left.")
			}
			delete(g.cursors, p.ID)
		}
	}

	g.msgs = g.mq.AppendMessages(g.msgs[:0], g.topics.Chat+"/+")
	for i := range g.msgs {
		id, _ := mqttgame.Wildcard(g.topics.Chat+"/+", g.msgs[i].Topic)
		if m, ok := decodeChat(g.msgs[i].Payload); ok {
			name := NameOf(id) // the topic's, not the payload's
			c, ok := ParseHex(m.Color)
			if !ok {
				c = ColorOf(name)
			}
			g.chat.add(ChatLine{Kind: SaidLine, Name: name, Color: c, Text: m.Text, Time: time.UnixMilli(m.Time), Self: id == g.id})
		}
	}

	g.msgs = g.mq.AppendMessages(g.msgs[:0], g.topics.Cursors+"/+")
	for i := range g.msgs {
		m := &g.msgs[i]
		id, _ := mqttgame.Wildcard(g.topics.Cursors+"/+", m.Topic)
		x, y, ok := decodeCursor(m.Text())
		if !ok || id == g.id {
			continue
		}
		c := g.cursors[id]
		if c == nil {
			c = &remoteCursor{}
			g.cursors[id] = c
		}
		c.tx, c.ty, c.lastTick = float64(x), float64(y), g.tick
		c.received++
	}
	for id, c := range g.cursors {
		if g.tick-c.lastTick > cursorGone {
			delete(g.cursors, id)
			continue
		}
		c.ease()
	}

	g.watchRecords()
}

// watchRecords turns new bests that arrive while we watch into a chat
// line and a highlight.
func (g *Game) watchRecords() {
	if !g.board.Changed() {
		return
	}
	wasLoading := g.board.JustCompleted()
	g.top = g.board.AppendTop(g.top[:0])
	for _, e := range g.top {
		old, known := g.scores[e.ID]
		if e.Score == old && known {
			continue
		}
		g.scores[e.ID] = e.Score
		if wasLoading || !g.board.IsComplete() {
			continue // the snapshot: not news
		}
		g.fresh[e.ID] = g.now.Add(4 * time.Second)
		g.system(fmt.Sprintf("%s scored %d, a new best!", NameOf(e.ID), e.Score))
		g.log.Info("record", "name", NameOf(e.ID), "score", e.Score)
	}
}

func (g *Game) updateLobby(in *Input) {
	g.chat.ScrollBy(in.Scroll)
	if in.Escape && g.round != nil {
		g.round = nil // given up: no score
	}
	if g.round != nil {
		fx := float64(in.MouseX - FieldPanel.X)
		g.round.Update(RoundInput{
			Left: in.Left, Right: in.Right,
			PointerX:  fx,
			PointerIn: in.MouseIn && FieldPanel.Contains(in.MouseX, in.MouseY),
		})
		if g.round.IsOver() {
			g.endRound()
		}
	} else {
		g.chat.Type(in.Chars)
		if in.Backspace {
			g.chat.Backspace()
		}
		if in.Enter {
			g.SendChat(string(g.chat.Input))
			g.chat.Input = g.chat.Input[:0]
		}
		// Space on an empty line, or the button, starts a round.
		startKey := len(g.chat.Input) == 1 && g.chat.Input[0] == ' '
		if startKey {
			g.chat.Input = g.chat.Input[:0]
		}
		if startKey || in.Click && PlayButton.Contains(in.MouseX, in.MouseY) {
			g.StartRound()
		}
	}
	g.publishCursor(in)
}

// publishCursor sends the pointer when it moved, at most every
// CursorEvery ticks, at QoS 0: a lost position is replaced by the next.
func (g *Game) publishCursor(in *Input) {
	if !in.MouseIn || g.tick-g.sentTick < CursorEvery || !g.mq.IsConnected() {
		return
	}
	x := min(max(in.MouseX, 0), ScreenWidth-1)
	y := min(max(in.MouseY, 0), ScreenHeight-1)
	if x == g.sentX && y == g.sentY {
		return
	}
	if _, err := g.mq.PublishString(g.topics.Cursors+"/"+g.id, encodeCursor(x, y), mqttgame.AtMostOnce, false); err == nil {
		g.sentX, g.sentY, g.sentTick = x, y, g.tick
		g.cursorsSent++
	}
}

// SendChat publishes a chat line (QoS 1) on the player's own chat topic.
// Blank lines are ignored; long ones are cut.
func (g *Game) SendChat(text string) error {
	if g.phase != PhaseLobby {
		return errors.New("game: not in a room")
	}
	text = clean(text, MaxChatLength)
	if text == "" {
		return nil
	}
	payload, err := json.Marshal(ChatMessage{V: ProtocolVersion, ID: g.id, Name: g.name, Color: Hex(g.color), Text: text, Time: g.now.UnixMilli()})
	if err != nil {
		return err
	}
	_, err = g.mq.PublishMessage(&mqttgame.Message{Topic: g.topics.Chat + "/" + g.id, Payload: payload, QoS: chatPublishQoS, ContentType: "application/json", PayloadUTF8: true})
	if err != nil {
		g.system("Could not send: " + overlay.Describe(err))
	}
	return err
}

// StartRound starts a round of the mini-game, unless one is running.
func (g *Game) StartRound() {
	if g.phase != PhaseLobby || g.round != nil {
		return
	}
	g.rounds++
	g.round = NewRound(g.cfg.Seed+g.rounds, g.cfg.RoundTicks)
	g.hasResult = false
}

// endRound publishes the score as the player's best, if it is one.
func (g *Game) endRound() {
	r := g.round
	g.round = nil
	g.result = Result{Score: r.Score, Caught: r.Caught, Combo: r.BestCombo}
	best, _ := g.board.Best(g.id)
	g.result.Best = max(best.Score, r.Score)
	if r.Score > 0 {
		outcome, err := g.board.Submit(leaderboard.Entry{ID: g.id, Name: g.name, Score: r.Score, Date: g.now})
		g.result.NewBest = outcome == leaderboard.NewBest || outcome == leaderboard.Pending && r.Score > best.Score
		if err != nil {
			g.system("Could not save the score: " + overlay.Describe(err))
		}
		if g.result.NewBest {
			// The board took it already; its echo changes nothing there.
			g.scores[g.id] = r.Score
			g.fresh[g.id] = g.now.Add(4 * time.Second)
			g.system(fmt.Sprintf("You scored %d, a new best!", r.Score))
		}
	}
	g.hasResult, g.resultTick = true, g.tick
	g.log.Info("round over", "score", r.Score, "best", g.result.Best, "newBest", g.result.NewBest)
}

func (g *Game) system(text string) {
	g.chat.add(ChatLine{Kind: SystemLine, Text: text, Time: g.now, Color: color.RGBA{0x9a, 0xa3, 0xb5, 0xff}})
}

// Leave quits the room on purpose: the others see the player go offline
// at once (the presence will, sent on purpose). Update then runs until
// Phase is PhaseLeft.
func (g *Game) Leave() {
	switch g.phase {
	case PhaseJoin:
		g.phase = PhaseLeft
	case PhaseLobby:
		g.phase = PhaseLeaving
		g.log.Info("leaving", "name", g.name)
		if err := g.roster.Leave(); err != nil {
			g.phase = PhaseLeft
		}
	}
}

// takenOver goes back to the join screen when another window joined the
// room under the same name: the broker gave it this window's session,
// and the client does not take it back (they would push each other off
// forever). Nothing of the room is kept.
func (g *Game) takenOver() {
	name, room := g.name, g.room
	g.log.Warn("another window took over the player", "name", name, "room", room)
	g.mq.Close() // the connection is gone already: this only ends its goroutines
	g.mq, g.roster, g.board, g.status = nil, nil, nil, nil
	g.chat = Chat{}
	g.cursors, g.scores, g.fresh = nil, nil, nil
	g.round, g.hasResult, g.everConnected = nil, false, false
	g.name, g.room, g.id = "", "", ""
	g.phase = PhaseJoin
	g.joinErr = fmt.Sprintf("Another window joined room %q as %s and took this window's place. Join again to take it back, or pick another name to play in both.", room, name)
}

// Close releases the client; call it after Leave, once Phase is
// PhaseLeft or the game gave up waiting.
func (g *Game) Close() {
	if g.mq != nil {
		g.mq.Close()
	}
}

// Phase returns where the player is.
func (g *Game) Phase() Phase { return g.phase }

// Tick returns the number of ticks run.
func (g *Game) Tick() int { return g.tick }

// Now returns the wall clock of the current tick.
func (g *Game) Now() time.Time { return g.now }

// NameInput and RoomInput return the join screen's fields; FocusRoom
// tells which has the focus, and JoinError why the last try failed.
func (g *Game) NameInput() string { return string(g.nameInput) }

// RoomInput returns the room field of the join screen.
func (g *Game) RoomInput() string { return string(g.roomInput) }

// FocusRoom reports whether the room field has the focus.
func (g *Game) FocusRoom() bool { return g.focusRoom }

// JoinError says why the last try to join failed, or "".
func (g *Game) JoinError() string { return g.joinErr }

// Name returns the player's name once joined.
func (g *Game) Name() string { return g.name }

// Room returns the room once joined.
func (g *Game) Room() string { return g.room }

// ID returns the player's topic level once joined.
func (g *Game) ID() string { return g.id }

// Color returns the player's colour once joined.
func (g *Game) Color() color.RGBA { return g.color }

// Topics returns the room's topics once joined.
func (g *Game) Topics() Topics { return g.topics }

// Client returns the MQTT client once joined, or nil.
func (g *Game) Client() *mqttgame.Client { return g.mq }

// Chat returns the chat panel's state.
func (g *Game) Chat() *Chat { return &g.chat }

// Round returns the round being played, or nil.
func (g *Game) Round() *Round { return g.round }

// LastResult returns the last round's result while it is on show.
func (g *Game) LastResult() (Result, bool) {
	return g.result, g.hasResult && g.tick-g.resultTick < resultTicks
}

// Status returns the connection status.
func (g *Game) Status() overlay.Status {
	if g.status == nil {
		return overlay.Status{Broker: g.cfg.Broker, Note: g.cfg.Note}
	}
	return g.status.Status()
}

// ScoresLoaded reports whether the leaderboard has loaded (until then,
// an empty board only means "not yet").
func (g *Game) ScoresLoaded() bool { return g.board != nil && g.board.IsComplete() }

// Best returns the player's best score, if any.
func (g *Game) Best() (int, bool) {
	if g.board == nil {
		return 0, false
	}
	e, ok := g.board.Best(g.id)
	return e.Score, ok
}

// AppendTop appends the top 10 to dst and returns it.
func (g *Game) AppendTop(dst []ScoreRow) []ScoreRow {
	if g.board == nil {
		return dst
	}
	g.top = g.board.AppendTop(g.top[:0])
	for i, e := range g.top {
		dst = append(dst, ScoreRow{
			Rank: i + 1, Name: NameOf(e.ID), Color: ColorOf(NameOf(e.ID)), Score: e.Score, Date: e.Date,
			Self: e.ID == g.id, Fresh: g.now.Before(g.fresh[e.ID]),
		})
	}
	return dst
}

// AppendPlayers appends the players panel to dst and returns it: who is
// online, then who left recently, fading.
func (g *Game) AppendPlayers(dst []PlayerRow) []PlayerRow {
	if g.roster == nil {
		return dst
	}
	g.online = g.roster.AppendPlayers(g.online[:0])
	for pass := 0; pass < 2; pass++ {
		for _, p := range g.online {
			if p.Online != (pass == 0) {
				continue
			}
			row := PlayerRow{Name: NameOf(p.ID), Color: colorOf(p), Online: p.Online, Self: p.Self, Since: p.Since, Alpha: 1}
			if !p.Online {
				if p.Seen.IsZero() {
					continue // gone before we came
				}
				row.Alpha = 1 - float64(g.now.Sub(p.Seen))/float64(FadeOffline)
				if row.Alpha <= 0 {
					continue
				}
				row.Alpha = 0.25 + 0.5*row.Alpha
			}
			dst = append(dst, row)
		}
	}
	return dst
}

func colorOf(p presence.Player) color.RGBA {
	if c, ok := ParseHex(p.Color); ok {
		return c
	}
	return ColorOf(NameOf(p.ID))
}

// OnlineCount returns how many players are online, the player included.
func (g *Game) OnlineCount() int {
	if g.roster == nil {
		return 0
	}
	return g.roster.Online()
}

// AppendCursors appends the other players' pointers to dst and returns it.
func (g *Game) AppendCursors(dst []Cursor) []Cursor {
	for id, c := range g.cursors {
		p, ok := g.roster.Player(id)
		if ok && !p.Online {
			continue
		}
		name := NameOf(id)
		alpha := 1.0
		if idle := g.tick - c.lastTick; idle > cursorFade {
			alpha = 1 - float64(idle-cursorFade)/float64(cursorGone-cursorFade)
		}
		col := ColorOf(name)
		if ok {
			col = colorOf(p)
		}
		dst = append(dst, Cursor{ID: id, Name: name, Color: col, X: c.x, Y: c.y, Alpha: alpha})
	}
	return dst
}

// cursorsReceived returns how many positions of the player with this ID
// arrived, for tests.
func (g *Game) cursorsReceived(id string) uint64 {
	if c := g.cursors[id]; c != nil {
		return c.received
	}
	return 0
}

package game

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newGame joins a room as a player, closed when the test ends.
func newGame(t *testing.T, url, name, room string) *Game {
	t.Helper()
	g, err := New(Config{
		Broker: url, Name: name, Room: room, AutoJoin: true,
		WillDelay: time.Second, Seed: 1,
		ClientOptions: func(o *mqttgame.Options) {
			o.ReconnectDelay = 20 * time.Millisecond
			o.MaxReconnectDelay = 200 * time.Millisecond
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// tickUntil runs the games' ticks with no input, as idle game loops
// would, until cond holds; it fails the test after mqtttest.WaitFor.
func tickUntil(t *testing.T, what string, cond func() bool, gs ...*Game) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		for _, g := range gs {
			g.Update(&Input{})
		}
	}, cond, func() {
		for _, g := range gs {
			t.Logf("%s: phase %d, status %+v", g.Name(), g.Phase(), g.Status())
		}
	})
}

// sees reports whether g lists the player named as online (or offline).
func sees(g *Game, name string, online bool) bool {
	for _, p := range g.AppendPlayers(nil) {
		if p.Name == name {
			return p.Online == online
		}
	}
	return false
}

func saidLine(g *Game, text string) bool {
	for _, l := range g.Chat().Lines {
		if l.Text == text {
			return true
		}
	}
	return false
}

// TestPlayersSeeEachOtherJoinAndLeave: two players see each other join;
// one quits and the other sees it go, at once.
func TestPlayersSeeEachOtherJoinAndLeave(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	ann := newGame(t, b.URL(), "ann", "lobby")
	// Ann is there first once her roster's ask, made in the tick that
	// finds her subscribed, is through the broker: a live ask routed to
	// bob while he subscribes can reach him before her retained record
	// (the broker routes to a new subscription before it sends the
	// retained messages), and say she just came.
	tickUntil(t, "ann online, and her ask through", func() bool {
		st := ann.Client().Stats()
		return sees(ann, "ann", true) && ann.Client().IsSubscribed(ann.Topics().Presence+"/+") && st.Queued == 0 && st.InFlight == 0
	}, ann)
	bob := newGame(t, b.URL(), "bob", "lobby")
	tickUntil(t, "each sees the other, and themself", func() bool {
		return sees(ann, "bob", true) && sees(bob, "ann", true) && ann.OnlineCount() == 2 && bob.OnlineCount() == 2
	}, ann, bob)
	if !saidLine(ann, "bob joined.") {
		t.Error("ann's chat does not say bob joined")
	}
	if saidLine(bob, "ann joined.") {
		t.Error("bob's chat says ann joined, though she was there first")
	}
	for _, p := range ann.AppendPlayers(nil) {
		if p.Name == "bob" && p.Color != ColorOf("bob") {
			t.Errorf("bob's colour is %v, want %v", p.Color, ColorOf("bob"))
		}
	}

	bob.Leave()
	tickUntil(t, "ann sees bob leave, and bob gone", func() bool {
		return sees(ann, "bob", false) && bob.Phase() == PhaseLeft
	}, ann, bob)
	if !saidLine(ann, "bob left.") {
		t.Error("ann's chat does not say bob left")
	}
	for _, p := range ann.AppendPlayers(nil) {
		if p.Name == "bob" && (p.Alpha >= 1 || p.Alpha <= 0) {
			t.Errorf("bob, just gone, has alpha %v; want fading", p.Alpha)
		}
	}
	// A minute later, he has faded from the list.
	ann.Update(&Input{Now: time.Now().Add(FadeOffline + time.Second)})
	for _, p := range ann.AppendPlayers(nil) {
		if p.Name == "bob" {
			t.Errorf("bob still listed %v after he left: %+v", FadeOffline, p)
		}
	}
}

// TestAbruptLossThroughWill: a player whose network is cut goes offline
// for the others, through the will the broker publishes.
func TestAbruptLossThroughWill(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	proxy, err := netfault.New(b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	ann := newGame(t, b.URL(), "ann", "lobby")
	bob := newGame(t, "ws://"+proxy.Addr()+"/mqtt", "bob", "lobby")
	tickUntil(t, "ann sees bob", func() bool { return sees(ann, "bob", true) }, ann, bob)

	// The network goes, for good: every connection reset, none taken.
	proxy.Close()
	tickUntil(t, "ann sees bob gone", func() bool { return sees(ann, "bob", false) }, ann, bob)
	if !saidLine(ann, "bob left.") {
		t.Error("ann's chat does not say bob left")
	}
	if bob.Status().Connected {
		t.Error("bob thinks he is connected")
	}
	if !saidLine(bob, "Lost the connection to the broker; trying again…") {
		t.Error("bob's chat does not say the connection was lost")
	}
}

// TestChatCompleteAndInOrder: lines typed on consecutive ticks all arrive,
// in order, for the other player and the sender; typed topic syntax stays
// text; long lines are cut at the limit.
func TestChatCompleteAndInOrder(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	ann := newGame(t, b.URL(), "ann", "lobby")
	bob := newGame(t, b.URL(), "bob", "lobby")
	tickUntil(t, "both online", func() bool { return sees(ann, "bob", true) && sees(bob, "ann", true) }, ann, bob)

	var sent []string
	for i := range 40 {
		text := fmt.Sprintf("line %02d #/+ ok", i)
		sent = append(sent, text)
		ann.Update(&Input{Chars: []rune(text), Enter: true})
		bob.Update(&Input{})
	}
	long := strings.Repeat("x", 500)
	ann.Update(&Input{Chars: []rune(long), Enter: true})
	sent = append(sent, long[:MaxChatLength])

	said := func(g *Game) []string {
		var got []string
		for _, l := range g.Chat().Lines {
			if l.Kind == SaidLine {
				got = append(got, l.Text)
			}
		}
		return got
	}
	tickUntil(t, "every line", func() bool { return len(said(bob)) >= len(sent) && len(said(ann)) >= len(sent) }, ann, bob)
	if got := said(bob); !slices.Equal(got, sent) {
		t.Fatalf("bob got %d lines %q\nwant %q", len(got), got, sent)
	}
	if got := said(ann); !slices.Equal(got, sent) {
		t.Fatalf("ann's own lines came back as %q", got)
	}
	for _, l := range bob.Chat().Lines {
		if l.Kind == SaidLine && (l.Name != "ann" || l.Color != ColorOf("ann") || l.Self) {
			t.Fatalf("line %+v: want from ann, in her colour, not bob's own", l)
		}
	}
}

// TestRecordReplacesEntry: a round's score becomes the player's best on
// everyone's board; a lower score later is not published and changes
// nothing; a higher one replaces it.
func TestRecordReplacesEntry(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	spy := newSpy(t, b.URL(), TopicsOf("lobby").Scores+"/+")
	ann := newGame(t, b.URL(), "ann", "lobby")
	bob := newGame(t, b.URL(), "bob", "lobby")
	tickUntil(t, "boards loaded", func() bool { return ann.ScoresLoaded() && bob.ScoresLoaded() }, ann, bob)

	play := func(score int) Result {
		ann.StartRound()
		ann.round.Score = score
		ann.round.Tick = ann.round.Length - 1
		ann.Update(&Input{})
		res, ok := ann.LastResult()
		if !ok || ann.Round() != nil {
			t.Fatalf("round did not end")
		}
		return res
	}
	annBest := func(g *Game) int {
		for _, r := range g.AppendTop(nil) {
			if r.Name == "ann" {
				return r.Score
			}
		}
		return -1
	}

	if res := play(17); !res.NewBest || res.Score != 17 || res.Best != 17 {
		t.Fatalf("first round: %+v", res)
	}
	if !saidLine(ann, "You scored 17, a new best!") {
		t.Error("ann's chat does not announce her own record")
	}
	tickUntil(t, "bob sees 17", func() bool { return annBest(bob) == 17 }, ann, bob)
	if !saidLine(bob, "ann scored 17, a new best!") {
		t.Error("bob's chat does not announce ann's record")
	}
	if rows := bob.AppendTop(nil); !rows[0].Fresh {
		t.Error("ann's new record is not highlighted on bob's board")
	}

	if res := play(9); res.NewBest || res.Best != 17 {
		t.Fatalf("lower round: %+v; want no new best, best 17", res)
	}
	if res := play(30); !res.NewBest || res.Best != 30 {
		t.Fatalf("record round: %+v", res)
	}
	tickUntil(t, "bob sees 30", func() bool { return annBest(bob) == 30 }, ann, bob)
	tickUntil(t, "the spy sees 30", func() bool { return strings.Contains(spy.last(), `"score":30`) }, ann, bob)
	for _, p := range spy.payloads() {
		if strings.Contains(p, `"score":9`) {
			t.Fatalf("the lower score was published: %s", p)
		}
	}

	// A newcomer loads the record.
	carol := newGame(t, b.URL(), "carol", "lobby")
	tickUntil(t, "carol's board", carol.ScoresLoaded, carol)
	if got := annBest(carol); got != 30 {
		t.Fatalf("carol sees ann's best as %d, want 30", got)
	}
	if saidLine(carol, "ann scored 30, a new best!") {
		t.Error("carol's snapshot was announced as news")
	}
}

// TestNicknameCannotInjectTopics: names and rooms full of topic syntax,
// and chat lines too, touch only the room's own topics, each name as one
// escaped level; another player's records stay untouched.
func TestNicknameCannotInjectTopics(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	spy := newSpy(t, b.URL(), "#")
	const room = "r/+/#"
	topics := TopicsOf(room)
	bob := newGame(t, b.URL(), "bob", room)
	tickUntil(t, "bob online", func() bool { return sees(bob, "bob", true) }, bob)

	names := []string{"bob/#", "+", "$SYS/x", "bob/../bob", "/", "#"}
	var evil []*Game
	for _, n := range names {
		evil = append(evil, newGame(t, b.URL(), n, room))
	}
	all := append([]*Game{bob}, evil...)
	tickUntil(t, "every evil name online for bob", func() bool {
		for _, n := range names {
			if !sees(bob, n, true) {
				return false
			}
		}
		return bob.ScoresLoaded()
	}, all...)
	for i, g := range evil {
		g.Update(&Input{Chars: []rune("#+/ $SYS " + names[i]), Enter: true, MouseIn: true, MouseX: 100 + i, MouseY: 100})
		g.StartRound()
		g.round.Score = 5 + i
		g.round.Tick = g.round.Length - 1
	}
	tickUntil(t, "every chat line and score", func() bool {
		n := 0
		for _, l := range bob.Chat().Lines {
			if l.Kind == SaidLine && strings.HasPrefix(l.Text, "#+/ $SYS ") {
				n++
			}
		}
		return n == len(names) && len(bob.AppendTop(nil)) == len(names)
	}, all...)

	allowed := map[string]bool{}
	for _, n := range append(names, "bob") {
		id := PlayerID(n)
		allowed[topics.Chat+"/"+id] = true
		allowed[topics.Presence+"/"+id] = true
		allowed[topics.Cursors+"/"+id] = true
		allowed[topics.Scores+"/"+id] = true
	}
	for _, topic := range spy.topics() {
		if strings.HasPrefix(topic, topics.Scores+"/sync/") {
			continue // a board's snapshot marker
		}
		if !allowed[topic] {
			t.Errorf("a player wrote to %q", topic)
		}
	}
	for _, n := range names {
		if !slices.Contains(spy.topics(), topics.Presence+"/"+PlayerID(n)) {
			t.Errorf("no presence record for %q at its escaped level", n)
		}
	}
	if p, _ := bob.roster.Player("bob"); !p.Online || p.Name != "bob" {
		t.Errorf("bob's own record was changed: %+v", p)
	}
	if _, ok := bob.board.Best("bob"); ok {
		t.Error("someone wrote a score for bob")
	}
}

// TestCursorsCappedAndLatest: a pointer moved every tick is published at
// most every CursorEvery ticks, and the other player's view ends where it
// stopped.
func TestCursorsCappedAndLatest(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	ann := newGame(t, b.URL(), "ann", "lobby")
	bob := newGame(t, b.URL(), "bob", "lobby")
	tickUntil(t, "both online", func() bool { return sees(ann, "bob", true) && sees(bob, "ann", true) }, ann, bob)

	before := ann.cursorsSent
	const ticks = 120
	for i := range ticks {
		ann.Update(&Input{MouseIn: true, MouseX: 100 + 3*i, MouseY: 200 + i})
		bob.Update(&Input{})
	}
	sent := ann.cursorsSent - before
	if max := uint64(ticks/CursorEvery + 1); sent > max || sent < max-1 {
		t.Fatalf("%d positions sent in %d ticks; want about one every %d ticks", sent, ticks, CursorEvery)
	}
	last := func() (Cursor, bool) {
		for _, c := range bob.AppendCursors(nil) {
			if c.Name == "ann" {
				return c, true
			}
		}
		return Cursor{}, false
	}
	tickUntil(t, "bob sees ann's pointer at rest", func() bool {
		c, ok := last()
		return ok && c.X > 440 && c.X < 460 && c.Y > 310 && c.Y < 330
	}, ann, bob)
	if c, _ := last(); c.Color != ColorOf("ann") || c.Alpha != 1 {
		t.Errorf("ann's pointer: %+v", c)
	}
	if n := bob.cursorsReceived(ann.ID()); n == 0 || n > sent {
		t.Errorf("bob received %d positions of %d sent", n, sent)
	}
}

// TestKeepsRunningWithoutBroker: when the broker goes away, the game goes
// on (a round can be played), says so, and comes back by itself once the
// broker is back, present again for the others.
func TestKeepsRunningWithoutBroker(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	addr := b.Addr().String()
	ann := newGame(t, b.URL(), "ann", "lobby")
	// Wait for the board's marker subscription to be dropped too: an
	// UNSUBSCRIBE still unanswered when the connection goes holds the
	// next connection's subscriptions for the client's AckTimeout.
	unsubscribed := false
	tickUntil(t, "ann settled", func() bool {
		for _, e := range ann.Client().AppendEvents(nil) {
			unsubscribed = unsubscribed || e.Kind == mqttgame.EventUnsubscribed
		}
		return unsubscribed && sees(ann, "ann", true)
	}, ann)

	b.Close()
	tickUntil(t, "ann sees the loss", func() bool { return !ann.Status().Connected }, ann)
	if s := ann.Status(); s.Err == "" || !s.Connecting {
		t.Fatalf("status without a broker: %+v", s)
	}
	ann.StartRound()
	for range 10 {
		ann.Update(&Input{Right: true})
	}
	if r := ann.Round(); r == nil || r.Tick != 10 {
		t.Fatal("the round does not run without a broker")
	}

	b2 := mqtttest.StartBroker(t, &broker.Options{Addr: addr})
	tickUntil(t, "ann back", func() bool { return ann.Status().Connected }, ann)
	carol := newGame(t, b2.URL(), "carol", "lobby")
	tickUntil(t, "carol sees ann", func() bool { return sees(carol, "ann", true) }, ann, carol)
	if !saidLine(ann, "Connected again.") {
		t.Error("ann's chat does not say the connection is back")
	}
}

// TestJoinScreen: the name is typed and edited with backspace, Tab moves
// to the room, Enter joins; an empty name is refused with a reason.
func TestJoinScreen(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	g, err := New(Config{Broker: b.URL(), Room: "lobby"})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	g.Update(&Input{Enter: true})
	if g.Phase() != PhaseJoin || g.JoinError() == "" {
		t.Fatalf("joined with no name (phase %d, error %q)", g.Phase(), g.JoinError())
	}
	g.Update(&Input{Chars: []rune("annx")})
	g.Update(&Input{Backspace: true})
	g.Update(&Input{Tab: true})
	for range len("lobby") {
		g.Update(&Input{Backspace: true})
	}
	g.Update(&Input{Chars: []rune("den\x07")})
	if g.NameInput() != "ann" || g.RoomInput() != "den" || !g.FocusRoom() {
		t.Fatalf("fields: name %q, room %q, focus room %v", g.NameInput(), g.RoomInput(), g.FocusRoom())
	}
	g.Update(&Input{Chars: []rune(strings.Repeat("n", 40))})
	if n := len([]rune(g.RoomInput())); n != MaxRoomLength {
		t.Fatalf("room field holds %d runes, want the limit %d", n, MaxRoomLength)
	}
	g.Update(&Input{Click: true, MouseX: JoinButton.X + 5, MouseY: JoinButton.Y + 5})
	if g.Phase() != PhaseLobby || g.Name() != "ann" || g.Color() != ColorOf("ann") {
		t.Fatalf("after Join: phase %d, name %q", g.Phase(), g.Name())
	}
	tickUntil(t, "connected", func() bool { return g.Status().Connected }, g)
}

// spy records every message on a filter.
type spy struct {
	mu   sync.Mutex
	c    *mqttgame.Client
	msgs []mqttgame.Message
	done chan struct{}
	wg   sync.WaitGroup
}

// newSpy subscribes a client to filter and records what arrives, ticking
// on its own goroutine, until the test ends.
func newSpy(t *testing.T, url, filter string) *spy {
	t.Helper()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{url}, DataLoss: mqttgame.FIFO})
	if err != nil {
		t.Fatal(err)
	}
	c.Connect()
	c.Subscribe(filter, mqttgame.AtLeastOnce)
	s := &spy{c: c, done: make(chan struct{})}
	// Retained messages may show in the very tick that shows the
	// subscription: keep what every tick shows.
	mqtttest.TickUntil(t, "spy subscribed", func() {
		c.Update()
		s.msgs = c.AppendMessages(s.msgs, filter)
	}, func() bool { return c.IsSubscribed(filter) }, nil)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			c.Update()
			s.mu.Lock()
			s.msgs = c.AppendMessages(s.msgs, filter)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(s.done); s.wg.Wait(); c.Close() })
	return s
}

func (s *spy) topics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ts []string
	for _, m := range s.msgs {
		if !slices.Contains(ts, m.Topic) {
			ts = append(ts, m.Topic)
		}
	}
	return ts
}

func (s *spy) payloads() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []string
	for _, m := range s.msgs {
		ps = append(ps, string(m.Payload))
	}
	return ps
}

func (s *spy) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) == 0 {
		return ""
	}
	return string(s.msgs[len(s.msgs)-1].Payload)
}

// TestScoresSurviveRestart: on a broker that keeps the demo's scores in a
// data folder, a best score is still there after a restart; who was
// online is not.
func TestScoresSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	opts := &broker.Options{DataDir: dir, Persist: []string{PersistFilter}}
	b, err := broker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	ann := newGame(t, b.URL(), "ann", "den")
	tickUntil(t, "ann's board", ann.ScoresLoaded, ann)
	ann.StartRound()
	ann.round.Score, ann.round.Tick = 12, ann.round.Length-1
	ann.Update(&Input{})
	spy := newSpy(t, b.URL(), TopicsOf("den").Scores+"/+")
	tickUntil(t, "the score at the broker", func() bool { return strings.Contains(spy.last(), `"score":12`) }, ann)
	ann.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = broker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bob := newGame(t, b.URL(), "bob", "den")
	tickUntil(t, "bob's board and presence", func() bool { return bob.ScoresLoaded() && sees(bob, "bob", true) }, bob)
	if top := bob.AppendTop(nil); len(top) != 1 || top[0].Name != "ann" || top[0].Score != 12 {
		t.Fatalf("after a restart, the board is %+v; want ann's 12", top)
	}
	for _, p := range bob.AppendPlayers(nil) {
		if p.Name == "ann" {
			t.Fatalf("ann's presence survived the restart: %+v", p)
		}
	}
}

// TestSameNameInTwoWindows: a second window joining under the same name
// takes the first's place. The first says so in plain words and goes
// back to the join screen with nothing of the room kept; the second says
// the name was already in the room; a third player sees one ann, online,
// and, once the second quits, offline.
func TestSameNameInTwoWindows(t *testing.T) {
	b := mqtttest.StartBroker(t, nil)
	carol := newGame(t, b.URL(), "carol", "lobby")
	first := newGame(t, b.URL(), "ann", "lobby")
	tickUntil(t, "carol sees ann", func() bool { return sees(carol, "ann", true) }, carol, first)

	second := newGame(t, b.URL(), "ann", "lobby")
	tickUntil(t, "the first window back on the join screen", func() bool { return first.Phase() == PhaseJoin }, carol, first, second)
	if msg := first.JoinError(); !strings.Contains(msg, "Another window joined room \"lobby\" as ann") {
		t.Fatalf("the first window says %q, want it to say another window took its place", msg)
	}
	if first.Client() != nil || len(first.AppendPlayers(nil)) != 0 || len(first.Chat().Lines) != 0 || first.Name() != "" {
		t.Fatal("the first window kept the room's state")
	}
	tickUntil(t, "the second window says ann was already there", func() bool {
		return slices.ContainsFunc(second.Chat().Lines, func(l ChatLine) bool {
			return strings.HasPrefix(l.Text, "ann was already in this room")
		})
	}, carol, first, second)
	tickUntil(t, "carol sees ann online, through the second window", func() bool { return sees(carol, "ann", true) && sees(second, "ann", true) }, carol, first, second)

	second.Leave()
	tickUntil(t, "carol sees ann go", func() bool { return sees(carol, "ann", false) }, carol, first, second)
	if first.Phase() != PhaseJoin {
		t.Fatalf("the first window is in phase %d, want it still on the join screen", first.Phase())
	}
}

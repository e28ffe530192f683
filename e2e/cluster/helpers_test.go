package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/gamepeer"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/leaderboard"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
)

// The bounds the helpers keep on the ejabberd pair, which keeps retained
// messages per node and loses the wills of a killed node.
const (
	// lateJoinBound: a player on B sees every player online on A within
	// it of connecting, through the ask (the refresh interval is longer).
	lateJoinBound = 5 * time.Second
	// silenceSlack: what a killed node's players may take, past their
	// silence (presence.SilentIntervals refresh intervals), to show
	// offline: the ticks of a busy machine.
	silenceSlack = 3 * time.Second
)

// gamer is a client with a roster and a board, ticked as a game's loop.
type gamer struct {
	*gamepeer.Peer
	cfg    presence.Config
	r      *presence.Roster
	b      *leaderboard.Board
	events []presence.Event
	when   []time.Time
}

// gamer makes a player on node with a roster (refreshing every refresh;
// 0 for the default) and a board of size 3.
func (e *env) gamer(node int, name string, refresh time.Duration) *gamer {
	e.Helper()
	cfg := presence.Config{Topic: e.topic("presence"), ID: name, Name: name, RefreshInterval: refresh}
	p := e.client(node, name, func(o *mqttgame.Options) {
		if err := presence.Prepare(o, cfg); err != nil {
			e.Fatal(err)
		}
	})
	r, err := presence.New(p.Client, cfg)
	if err != nil {
		e.Fatal(err)
	}
	b, err := leaderboard.New(p.Client, e.topic("scores"), 3)
	if err != nil {
		e.Fatal(err)
	}
	return &gamer{Peer: p, cfg: cfg, r: r, b: b}
}

func (g *gamer) tick() {
	g.Update()
	g.r.Update()
	g.b.Update()
	n := len(g.events)
	g.events = g.r.AppendEvents(g.events)
	for range len(g.events) - n {
		g.when = append(g.when, time.Now())
	}
}

func (g *gamer) online(names ...string) bool {
	for _, n := range names {
		if p, ok := g.r.Player(n); !ok || !p.Online {
			return false
		}
	}
	return true
}

// left returns when g saw name leave, if it did.
func (g *gamer) left(name string) (time.Time, bool) {
	for i, ev := range g.events {
		if ev.Kind == presence.Left && ev.Player.ID == name {
			return g.when[i], true
		}
	}
	return time.Time{}, false
}

func (g *gamer) top() string {
	var s []string
	for _, en := range g.b.AppendTop(nil) {
		s = append(s, fmt.Sprintf("%s=%d", en.ID, en.Score))
	}
	return fmt.Sprint(s)
}

// tickUntil ticks the gamers until cond holds, failing after limit.
func (e *env) tickUntil(limit time.Duration, what string, cond func() bool, gs ...*gamer) {
	e.Helper()
	mqtttest.TickUntilWithin(e.T, limit, what, func() {
		for _, g := range gs {
			g.tick()
		}
	}, cond, func() {
		for _, g := range gs {
			e.Logf("%s: connected=%v err=%v online=%v top=%s complete=%v", g.Name, g.IsConnected(), g.Err(), g.r.AppendOnline(nil), g.top(), g.b.IsComplete())
		}
	})
}

// TestHelpersLateJoiner: on the ejabberd pair, over each transport, ann
// and bob play on node A and set scores; carol comes on node B, whose
// retained messages hold none of theirs. She sees both online within
// lateJoinBound, and her board, once complete, is the true top 3.
func TestHelpersLateJoiner(t *testing.T) {
	for _, tr := range transportNames {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			bd := getBed(t, "ejabberd")
			t.Cleanup(func() { bd.check(t) })
			e := newEnv(t, results.Case(casematrix.Cell{Case: "helpers_late_joiner", Target: "ejabberd", Transport: tr}), bd)

			ann, bob, dan := e.gamer(0, "ann", 0), e.gamer(0, "bob", 0), e.gamer(0, "dan", 0)
			onA := []*gamer{ann, bob, dan}
			for _, g := range onA {
				if err := g.Connect(); err != nil {
					e.Fatal(err)
				}
			}
			e.tickUntil(waitFor, "the boards on A complete and the players see each other", func() bool {
				for _, g := range onA {
					if !g.b.IsComplete() || !g.online("ann", "bob", "dan") {
						return false
					}
				}
				return true
			}, onA...)
			for i, g := range onA {
				if o, err := g.b.Submit(leaderboard.Entry{ID: g.Name, Name: g.Name, Score: 10 * (i + 1)}); o != leaderboard.NewBest || err != nil {
					e.Fatalf("%s's score: %v, %v", g.Name, o, err)
				}
			}
			e.tickUntil(waitFor, "the scores on A", func() bool {
				for _, g := range onA {
					if g.top() != "[dan=30 bob=20 ann=10]" {
						return false
					}
				}
				return true
			}, onA...)

			carol := e.gamer(1, "carol", 0)
			all := append(onA, carol)
			if err := carol.Connect(); err != nil {
				e.Fatal(err)
			}
			start := time.Now()
			var sawAll, scoresIn, complete time.Duration
			e.tickUntil(waitFor, "carol sees everyone on A and completes her board", func() bool {
				if sawAll == 0 && carol.online("ann", "bob", "dan", "carol") {
					sawAll = time.Since(start)
				}
				if scoresIn == 0 && carol.top() == "[dan=30 bob=20 ann=10]" {
					scoresIn = time.Since(start)
				}
				if carol.b.JustCompleted() {
					complete = time.Since(start)
					if got := carol.top(); got != "[dan=30 bob=20 ann=10]" {
						e.Errorf("carol's board complete with %s", got)
					}
				}
				return sawAll > 0 && complete > 0
			}, all...)
			e.Logf("carol on B saw the players of A in %v, their scores in %v; her board was complete in %v",
				sawAll.Round(time.Millisecond), scoresIn.Round(time.Millisecond), complete.Round(time.Millisecond))
			if sawAll > lateJoinBound {
				e.Errorf("carol saw the players of A after %v, past %v", sawAll, lateJoinBound)
			}
			for _, g := range all {
				for _, ev := range g.events {
					if ev.Kind == presence.Left {
						e.Errorf("%s saw %s leave", g.Name, ev.Player.ID)
					}
				}
			}
		})
	}
}

// TestHelpersKilledNode: on the ejabberd pair, players on node A (one
// per transport) refresh every 500 ms; when node A is killed their wills
// die with it, and carol on B shows them offline within their silence
// (3 × 500 ms) and silenceSlack, and not before 2 refresh intervals
// (less a tenth of one, for a late timer).
func TestHelpersKilledNode(t *testing.T) {
	const refresh = 500 * time.Millisecond
	bd := spend(t, "ejabberd")
	t.Cleanup(bd.close)
	e := newEnv(t, results.Case(casematrix.Cell{Case: "helpers_killed_node", Target: "ejabberd", Transport: "ws"}), bd)
	var onA []string
	var gs []*gamer
	for _, tr := range transportNames {
		te := newEnv(t, results.Case(casematrix.Cell{Case: "helpers_killed_node", Target: "ejabberd", Transport: tr}), bd)
		te.prefix = e.prefix // one room
		g := te.gamer(0, "a-"+tr, refresh)
		onA = append(onA, g.Name)
		gs = append(gs, g)
	}
	carol := e.gamer(1, "carol", refresh)
	gs = append(gs, carol)
	for _, g := range gs {
		if err := g.Connect(); err != nil {
			e.Fatal(err)
		}
	}
	e.tickUntil(waitFor, "carol sees the players of A", func() bool { return carol.online(onA...) }, gs...)
	// A few refreshes, to see that none flickers while A lives.
	watched := time.Now().Add(4 * refresh)
	e.tickUntil(waitFor, "four refresh intervals", func() bool { return time.Now().After(watched) }, gs...)
	for _, name := range onA {
		if _, ok := carol.left(name); ok {
			e.Fatalf("carol saw %s leave while node A lives", name)
		}
	}

	killed := time.Now()
	bd.kill(0)
	silence := presence.SilentIntervals * refresh
	e.tickUntil(silence+silenceSlack+waitFor, "carol sees the players of A leave", func() bool {
		return !slices.ContainsFunc(onA, func(n string) bool { _, ok := carol.left(n); return !ok })
	}, gs...)
	for _, name := range onA {
		at, _ := carol.left(name)
		d := at.Sub(killed)
		e.Logf("%s shown offline %v after the kill (silence %v)", name, d.Round(time.Millisecond), silence)
		// The last refresh came up to one interval before the kill, a
		// little more when its timer fired late on a busy machine.
		if early := silence - refresh - refresh/10; d > silence+silenceSlack || d < early {
			e.Errorf("%s shown offline %v after the kill; want between %v and %v", name, d, early, silence+silenceSlack)
		}
	}
}

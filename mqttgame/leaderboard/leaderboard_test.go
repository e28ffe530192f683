package leaderboard_test

import (
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/leaderboard"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	scores = "game/lobby/scores"
)

// newClient returns a client connecting to url, closed when the test
// ends.
func newClient(t *testing.T, url string) *mqttgame.Client {
	t.Helper()
	c := mqtttest.NewClient(t, &mqttgame.Options{Brokers: []string{url}})
	c.Connect()
	return c
}

// player is a client with a board, as a game has them.
type player struct {
	c *mqttgame.Client
	b *leaderboard.Board
}

func newPlayer(t *testing.T, url string, size int) *player {
	t.Helper()
	c := newClient(t, url)
	b, err := leaderboard.New(c, scores, size)
	if err != nil {
		t.Fatal(err)
	}
	return &player{c: c, b: b}
}

func (p *player) tick() {
	p.c.Update()
	p.b.Update()
}

func tickUntil(t *testing.T, what string, cond func() bool, ps ...*player) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		for _, p := range ps {
			p.tick()
		}
	}, cond, nil)
}

func (p *player) best(id string) int {
	e, _ := p.b.Best(id)
	return e.Score
}

// publishRetained publishes retained scores from a plain client and waits
// until the broker has them all.
func publishRetained(t *testing.T, url string, msgs map[string]string) {
	t.Helper()
	c := newClient(t, url)
	ids := map[mqttgame.PublishID]bool{}
	for topic, payload := range msgs {
		id, err := c.PublishString(topic, payload, mqttgame.AtLeastOnce, true)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	mqtttest.TickUntil(t, "the retained scores acknowledged", c.Update, func() bool {
		for _, e := range c.AppendEvents(nil) {
			if e.Kind == mqttgame.EventDelivered {
				delete(ids, e.ID)
			}
		}
		return len(ids) == 0
	}, nil)
}

// TestRecordReplacesLowerDoesNot: a better score replaces a player's entry
// on every board; a lower one, submitted or published behind the board's
// back, does not.
func TestRecordReplacesLowerDoesNot(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), 10)
	bob := newPlayer(t, b.URL(), 10)
	tickUntil(t, "boards complete", func() bool { return ann.b.IsComplete() && bob.b.IsComplete() }, ann, bob)

	if got, err := ann.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 10}); got != leaderboard.NewBest || err != nil {
		t.Fatalf("first score: %v, %v; want NewBest", got, err)
	}
	tickUntil(t, "bob sees ann's 10", func() bool { return bob.best("ann") == 10 }, ann, bob)

	if got, _ := ann.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 5}); got != leaderboard.NotBest {
		t.Fatalf("lower score: %v, want NotBest", got)
	}
	if got, _ := ann.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 10}); got != leaderboard.NotBest {
		t.Fatalf("equal score: %v, want NotBest", got)
	}
	if got, _ := ann.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 15}); got != leaderboard.NewBest {
		t.Fatalf("record: %v, want NewBest", got)
	}
	tickUntil(t, "bob sees ann's record", func() bool { return bob.best("ann") == 15 }, ann, bob)

	// A newcomer loads the retained best: the record, not the lower score.
	carol := newPlayer(t, b.URL(), 10)
	tickUntil(t, "carol's board complete", carol.b.IsComplete, carol)
	if got := carol.best("ann"); got != 15 {
		t.Fatalf("carol sees ann's best as %d, want 15", got)
	}

	// A lower score published by someone else does not replace the entry
	// on a board that knows better.
	publishRetained(t, b.URL(), map[string]string{scores + "/ann": `{"name":"ann","score":3,"date":"2025-01-01T00:00:00Z"}`})
	publishRetained(t, b.URL(), map[string]string{scores + "/dan": `{"name":"dan","score":1,"date":"2025-01-01T00:00:00Z"}`})
	tickUntil(t, "bob sees dan", func() bool { return bob.best("dan") == 1 }, bob)
	if got := bob.best("ann"); got != 15 {
		t.Fatalf("bob sees ann's best as %d after a lower publish, want 15", got)
	}
}

// TestSnapshotComplete: a newcomer's board turns complete only once every
// retained score is in, so it never shows a partial table as final; an
// empty room completes too.
func TestSnapshotComplete(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	empty := newPlayer(t, b.URL(), 10)
	tickUntil(t, "empty board complete", empty.b.IsComplete, empty)
	if n := len(empty.b.AppendTop(nil)); n != 0 {
		t.Fatalf("empty room: %d entries", n)
	}

	msgs := map[string]string{}
	for i := range 25 {
		msgs[fmt.Sprintf("%s/p%02d", scores, i)] = fmt.Sprintf(`{"name":"p%02d","score":%d,"date":"2025-01-01T00:00:%02dZ"}`, i, i*10, i)
	}
	publishRetained(t, b.URL(), msgs)

	for range 5 {
		p := newPlayer(t, b.URL(), 10)
		ticks := 0
		tickUntil(t, "board complete", func() bool {
			ticks++
			if p.b.JustCompleted() != p.b.IsComplete() {
				t.Fatal("JustCompleted and IsComplete disagree on the first complete tick")
			}
			return p.b.IsComplete()
		}, p)
		top := p.b.AppendTop(nil)
		if len(top) != 10 || top[0].Score != 240 || top[9].Score != 150 {
			t.Fatalf("on completion, the top 10 is %v", top)
		}
		if r := p.b.Rank("p00"); r != 25 {
			t.Errorf("Rank(p00) = %d, want 25", r)
		}
		p.tick()
		if p.b.JustCompleted() {
			t.Error("JustCompleted still true a tick later")
		}
	}
}

// TestTopOrder: best first, equal scores in the order they were set.
func TestTopOrder(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	publishRetained(t, b.URL(), map[string]string{
		scores + "/late":  `{"name":"late","score":50,"date":"2025-03-01T00:00:00Z"}`,
		scores + "/early": `{"name":"early","score":50,"date":"2025-01-01T00:00:00Z"}`,
		scores + "/top":   `{"name":"top","score":90,"date":"2025-05-01T00:00:00Z"}`,
		scores + "/low":   `{"name":"low","score":10,"date":"2025-01-01T00:00:00Z"}`,
		scores + "/junk":  `not json`,
	})
	p := newPlayer(t, b.URL(), 3)
	tickUntil(t, "board complete", p.b.IsComplete, p)
	var names []string
	for _, e := range p.b.AppendTop(nil) {
		names = append(names, e.Name)
	}
	if fmt.Sprint(names) != "[top early late]" {
		t.Fatalf("top 3: %v, want [top early late]", names)
	}
}

// TestPendingUntilComplete: a score submitted before the board is loaded
// waits, and is published only if it beats the retained best.
func TestPendingUntilComplete(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	publishRetained(t, b.URL(), map[string]string{
		scores + "/ann": `{"name":"ann","score":50,"date":"2025-01-01T00:00:00Z"}`,
		scores + "/bob": `{"name":"bob","score":50,"date":"2025-01-01T00:00:00Z"}`,
	})
	p := newPlayer(t, b.URL(), 10)
	if got, _ := p.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 20}); got != leaderboard.Pending {
		t.Fatalf("before completion: %v, want Pending", got)
	}
	if got, _ := p.b.Submit(leaderboard.Entry{ID: "bob", Name: "bob", Score: 60}); got != leaderboard.Pending {
		t.Fatalf("before completion: %v, want Pending", got)
	}
	watcher := newPlayer(t, b.URL(), 10)
	tickUntil(t, "bob's pending record published", func() bool { return watcher.best("bob") == 60 }, p, watcher)
	if got := watcher.best("ann"); got != 50 {
		t.Fatalf("ann's best is %d, want 50: a pending lower score replaced it", got)
	}
}

func TestSubmitRefusesBadEntries(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	p := newPlayer(t, b.URL(), 10)
	// Connected first: a broker closed while a client is still connecting
	// trips a data race inside mochi-mqtt.
	tickUntil(t, "board complete", p.b.IsComplete, p)
	for _, e := range []leaderboard.Entry{{ID: "", Name: "x"}, {ID: "a/b", Name: "x"}, {ID: "#", Name: "x"}, {ID: "ann"}} {
		if _, err := p.b.Submit(e); err == nil {
			t.Errorf("Submit(%+v) accepted", e)
		}
	}
}

package presence_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

// newRefreshing is newPlayer with a refresh interval.
func newRefreshing(t *testing.T, url, name string, refresh time.Duration) *player {
	t.Helper()
	return newPlayerWith(t, url, presence.Config{Topic: room, ID: segment.Escape(name), Name: name, RefreshInterval: refresh})
}

// newRaw is a plain client subscribed to the room's records, with every
// message kept: another implementation of the protocol, or a tool.
func newRaw(t *testing.T, url string) *mqttgame.Client {
	t.Helper()
	c := mqtttest.NewClient(t, &mqttgame.Options{Brokers: []string{url}, DataLoss: mqttgame.FIFO})
	c.Connect()
	c.Subscribe(room+"/+", mqttgame.AtLeastOnce)
	mqtttest.TickUntil(t, "raw client subscribed", c.Update, func() bool { return c.IsSubscribed(room + "/+") }, nil)
	return c
}

func record(t *testing.T, rec presence.Record) []byte {
	t.Helper()
	b, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAskIsAnswered: a live record with "ask" gets every online player's
// record back, live, however the asker came.
func TestAskIsAnswered(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), "ann", 0)
	bob := newPlayer(t, b.URL(), "bob", 0)
	tickUntil(t, "ann and bob see each other", func() bool { return ann.online("bob") && bob.online("ann") }, ann, bob)

	raw := newRaw(t, b.URL())
	if _, err := raw.Publish(room+"/zed", record(t, presence.Record{Name: "zed", Online: true, Ask: true}), mqttgame.AtLeastOnce, false); err != nil {
		t.Fatal(err)
	}
	answered := map[string]bool{}
	tickUntil(t, "live answers from ann and bob", func() bool {
		raw.Update()
		for _, m := range raw.AppendMessages(nil, room+"/+") {
			var rec presence.Record
			if !m.Retain && json.Unmarshal(m.Payload, &rec) == nil && rec.Online && !rec.Ask && rec.Refresh == presence.DefaultRefreshInterval.Seconds() {
				answered[m.Topic] = true
			}
		}
		return answered[room+"/ann"] && answered[room+"/bob"]
	}, ann, bob)
	// An answer seen above may be a late one to bob's own ask, sent before
	// ann read zed's: the one to zed comes with zed shown online.
	tickUntil(t, "ann shows zed, who asked, online", func() bool {
		return ann.online("zed") && ann.saw(presence.Joined, "zed")
	}, ann, bob)
}

// TestSilentPlayerShownOffline: a player whose record announces a refresh
// interval and who then says nothing, will or not, is shown offline after
// presence.SilentIntervals of them, and online again with the next
// record; a record without "refresh" (an older client) never falls
// silent.
func TestSilentPlayerShownOffline(t *testing.T) {
	t.Parallel()
	const refresh = 200 * time.Millisecond
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), "ann", 0)
	tickUntil(t, "ann online", func() bool { return ann.online("ann") }, ann)

	raw := newRaw(t, b.URL())
	raw.Publish(room+"/old", record(t, presence.Record{Name: "old", Online: true}), mqttgame.AtLeastOnce, true)
	ghost := record(t, presence.Record{Name: "ghost", Online: true, Refresh: refresh.Seconds()})
	raw.Publish(room+"/ghost", ghost, mqttgame.AtLeastOnce, false)
	tickUntil(t, "ann sees ghost and old", func() bool { return ann.online("ghost") && ann.online("old") }, ann)
	heard := time.Now()
	tickUntil(t, "ann shows ghost offline", func() bool { return !ann.online("ghost") }, ann)
	if d := time.Since(heard); d < presence.SilentIntervals*refresh-50*time.Millisecond {
		t.Errorf("ghost offline %v after its record, before its silence of %v", d, presence.SilentIntervals*refresh)
	}
	var left *presence.Event
	for i, e := range ann.events {
		if e.Kind == presence.Left && e.Player.Name == "ghost" {
			left = &ann.events[i]
		}
	}
	if left == nil || left.Replay || left.Player.Seen.IsZero() || left.Player.Online {
		t.Fatalf("ann's event for ghost's silence: %+v", left)
	}
	if !ann.online("old") {
		t.Error("a record without a refresh interval fell silent")
	}

	raw.Publish(room+"/ghost", ghost, mqttgame.AtLeastOnce, false)
	n := len(ann.events)
	tickUntil(t, "ghost back", func() bool { return ann.online("ghost") }, ann)
	if !slicesContainsJoin(ann.events[n:], "ghost") {
		t.Error("ann saw no Joined for ghost's return")
	}
}

func slicesContainsJoin(es []presence.Event, name string) bool {
	for _, e := range es {
		if e.Kind == presence.Joined && e.Player.Name == name {
			return true
		}
	}
	return false
}

// TestRefreshWithoutTicks: on a single broker, players refreshing every
// 100 ms stay online for each other without a flicker, even one whose
// game stops ticking (a hidden browser tab) while its connection lives:
// its refresh runs on a timer. Each sees each other join once.
func TestRefreshWithoutTicks(t *testing.T) {
	t.Parallel()
	const refresh = 100 * time.Millisecond
	b := mqtttest.StartBroker(t, nil)
	ann := newRefreshing(t, b.URL(), "ann", refresh)
	bob := newRefreshing(t, b.URL(), "bob", refresh)
	tickUntil(t, "ann and bob see each other", func() bool { return ann.online("bob") && bob.online("ann") }, ann, bob)
	p, _ := ann.r.Player("bob")
	before := p.Seen

	// bob stops ticking for 10 refresh intervals, 3 silences.
	mqtttest.TickFor(10*refresh, func() {
		ann.tick()
		if !ann.online("bob") {
			t.Fatal("bob shown offline while his game did not tick")
		}
	})
	if p, _ := ann.r.Player("bob"); !p.Seen.After(before) {
		t.Error("bob's refreshes did not reach ann while his game did not tick")
	}
	for _, pl := range []*player{ann, bob} {
		pl.tick()
		joins := 0
		for _, e := range pl.events {
			if e.Kind == presence.Left {
				t.Errorf("an event of a player refreshing: %+v", e)
			}
			if e.Kind == presence.Joined {
				joins++
			}
		}
		if joins != 2 {
			t.Errorf("%d Joined events, want 2 (each player once)", joins)
		}
	}
}

// TestAnswersAreRateLimited: a burst of asks gets one answer at once and
// one more, for the asks after it, AnswerGap later; then nothing.
func TestAnswersAreRateLimited(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), "ann", 0)
	tickUntil(t, "ann online", func() bool { return ann.online("ann") }, ann)
	raw := newRaw(t, b.URL())
	var answers []time.Time
	collect := func() {
		raw.Update()
		for _, m := range raw.AppendMessages(nil, room+"/ann") {
			var rec presence.Record
			if !m.Retain && json.Unmarshal(m.Payload, &rec) == nil && rec.Online && !rec.Ask {
				answers = append(answers, time.Now())
			}
		}
	}
	ask := record(t, presence.Record{Name: "zed", Online: true, Ask: true})
	raw.Publish(room+"/zed", ask, mqttgame.AtLeastOnce, false)
	tickUntil(t, "the first answer", func() bool { collect(); return len(answers) == 1 }, ann)
	for range 20 {
		raw.Publish(room+"/zed", ask, mqttgame.AtLeastOnce, false)
	}
	tickUntil(t, "the answer to the burst", func() bool { collect(); return len(answers) >= 2 }, ann)
	if d := answers[1].Sub(answers[0]); d < presence.AnswerGap-100*time.Millisecond {
		t.Errorf("second answer %v after the first; the gap is %v", d, presence.AnswerGap)
	}
	mqtttest.TickFor(presence.AnswerGap+500*time.Millisecond, func() {
		ann.tick()
		collect()
	})
	if len(answers) != 2 {
		t.Errorf("%d answers to 21 asks, want 2", len(answers))
	}
}

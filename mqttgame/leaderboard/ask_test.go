package leaderboard_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/leaderboard"
)

const ask = scores + "/sync/ask"

// TestAskIsAnswered: a board answers an ask with the best of the players
// it speaks for (Submit's, and Claim's), live, in the score's format.
func TestAskIsAnswered(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), 10)
	tickUntil(t, "ann's board complete", ann.b.IsComplete, ann)
	if o, err := ann.b.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: 42}); o != leaderboard.NewBest || err != nil {
		t.Fatalf("Submit: %v, %v", o, err)
	}
	publishRetained(t, b.URL(), map[string]string{scores + "/bea": `{"name":"bea","score":7,"date":"2026-01-01T00:00:00Z"}`})
	tickUntil(t, "ann sees bea", func() bool { return ann.best("bea") == 7 }, ann)
	ann.b.Claim("bea")

	raw := newClient(t, b.URL())
	raw.Subscribe(scores+"/+", mqttgame.AtLeastOnce)
	tickUntil(t, "raw subscribed", func() bool { raw.Update(); return raw.IsSubscribed(scores + "/+") }, ann)
	if _, err := raw.PublishString(ask, "0123456789abcdef", mqttgame.AtLeastOnce, false); err != nil {
		t.Fatal(err)
	}
	live := map[string]int{}
	tickUntil(t, "live answers for ann and bea", func() bool {
		raw.Update()
		for _, m := range raw.AppendMessages(nil, scores+"/+") {
			var e leaderboard.Entry
			if !m.Retain && json.Unmarshal(m.Payload, &e) == nil {
				live[m.Topic] = e.Score
			}
		}
		return live[scores+"/ann"] == 42 && live[scores+"/bea"] == 7
	}, ann)
}

// TestCompleteWaitsForAnswers: a newcomer's broker holds no retained
// score (as a cluster node may not), yet a live player elsewhere answers
// its ask: the board is not complete before leaderboard.AnswerWindow has
// passed since the ask, and then holds the answer.
func TestCompleteWaitsForAnswers(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	// zed plays on "another node": his score is only ever live.
	zed := newClient(t, b.URL())
	zed.Subscribe(ask, mqttgame.AtLeastOnce)
	mqtttest.TickUntil(t, "zed subscribed", zed.Update, func() bool { return zed.IsSubscribed(ask) }, nil)

	carol := newPlayer(t, b.URL(), 10)
	var asked time.Time
	tickUntil(t, "carol's board complete", func() bool {
		zed.Update()
		if zed.OnMessage(ask) {
			asked = time.Now()
			zed.PublishString(scores+"/zed", `{"name":"zed","score":99,"date":"2026-01-01T00:00:00Z"}`, mqttgame.AtLeastOnce, false)
		}
		return carol.b.IsComplete()
	}, carol)
	if asked.IsZero() {
		t.Fatal("carol's board completed without asking")
	}
	if d := time.Since(asked); d < leaderboard.AnswerWindow-100*time.Millisecond {
		t.Errorf("complete %v after the ask; the answer window is %v", d, leaderboard.AnswerWindow)
	}
	if carol.best("zed") != 99 {
		t.Errorf("carol's complete board: %v; want zed's live 99", carol.b.AppendTop(nil))
	}
}

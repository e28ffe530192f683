package leaderboard_test

import (
	"fmt"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
	"github.com/mqttgame/mqttgame/mqttgame/leaderboard"
)

// A player sets a score, then a lower one, then a record: only the best
// stays on the board.
func Example() {
	b, _ := broker.Start(nil)
	defer b.Close()
	mq, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer mq.Close()
	board, _ := leaderboard.New(mq, "game/lobby/scores", 10)
	mq.Connect()

	scores := []int{12, 7, 30}
	var top []leaderboard.Entry
	// In a game, this is the body of Update, one tick at a time.
	for tick := 0; tick < 60*60 && len(scores) > 0; tick++ { // a minute at most
		time.Sleep(time.Second / 60)
		mq.Update()
		board.Update()
		if !board.IsComplete() {
			continue // show "loading…", not an empty table
		}
		outcome, _ := board.Submit(leaderboard.Entry{ID: "ann", Name: "ann", Score: scores[0]})
		fmt.Println(scores[0], outcome)
		scores = scores[1:]
	}
	for _, e := range board.AppendTop(top[:0]) {
		fmt.Println(e.Name, e.Score)
	}
	// Output:
	// 12 new best
	// 7 not best
	// 30 new best
	// ann 30
}

package mqttgame_test

import (
	"fmt"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// A message that came through "players/+/pos" names its player in the
// level the '+' matched.
func ExampleWildcard() {
	for _, topic := range []string{"players/ann/pos", "players/bob/pos", "scores/ann"} {
		if id, ok := mqttgame.Wildcard("players/+/pos", topic); ok {
			fmt.Println(id, "moved")
		}
	}
	// Output:
	// ann moved
	// bob moved
}

// Every wildcard's part, in order, into a slice reused from tick to tick.
func ExampleAppendWildcards() {
	var parts []string
	parts, ok := mqttgame.AppendWildcards(parts[:0], "room/+/chat/#", "room/den/chat/ann/42")
	fmt.Println(parts, ok)
	// Output: [den ann/42] true
}

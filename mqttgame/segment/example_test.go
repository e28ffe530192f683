package segment_test

import (
	"fmt"

	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

// A nickname becomes one level of a topic, whatever the player typed.
func ExampleEscape() {
	for _, nick := range []string{"ann", "bob/#", "+"} {
		fmt.Println("room/lobby/scores/" + segment.Escape(nick))
	}
	// Output:
	// room/lobby/scores/ann
	// room/lobby/scores/bob_2F_23
	// room/lobby/scores/_2B
}

func ExampleUnescape() {
	nick, err := segment.Unescape("bob_2F_23")
	fmt.Println(nick, err)
	// Output: bob/# <nil>
}

// A player's topic is built from a pattern and read back from a message
// that came through the subscription "players/+/pos".
func ExampleFill() {
	topic, err := segment.Fill("players/+/pos", "ann/#1")
	fmt.Println(topic, err)

	names, err := segment.Parse("players/+/pos", topic)
	fmt.Println(names, err)
	// Output:
	// players/ann_2F_231/pos <nil>
	// [ann/#1] <nil>
}

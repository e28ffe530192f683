package game

import "math/rand/v2"

var (
	adjectives = []string{"swift", "lucky", "sleepy", "brave", "shiny", "quiet", "cosmic", "jolly", "nimble", "sunny", "fuzzy", "clever"}
	animals    = []string{"otter", "comet", "panda", "falcon", "gecko", "lynx", "koala", "heron", "badger", "newt", "moose", "quokka"}
)

// SuggestName makes up a nickname for the join screen, different for
// each seed most of the time, so that two windows opened one after the
// other do not start with the same name.
func SuggestName(seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed>>7|1))
	return adjectives[r.IntN(len(adjectives))] + "-" + animals[r.IntN(len(animals))] + itoa2(r.IntN(100))
}

func itoa2(n int) string { return string([]byte{byte('0' + n/10), byte('0' + n%10)}) }

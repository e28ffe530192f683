package mqttgame_test

import (
	"slices"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
)

func TestAppendWildcards(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		filter, topic string
		want          []string
		ok            bool
	}{
		{"players/+/pos", "players/ann/pos", []string{"ann"}, true},
		{"players/+/pos", "players/ann/vel", nil, false},
		{"room/+/players/+", "room/den/players/bob", []string{"den", "bob"}, true},
		{"+/+", "/", []string{"", ""}, true},
		{"chat/#", "chat/lobby/ann", []string{"lobby/ann"}, true},
		{"chat/#", "chat", []string{""}, true},
		{"#", "a/b", []string{"a/b"}, true},
		{"+/scores/#", "den/scores/ann/best", []string{"den", "ann/best"}, true},
		{"$share/g/players/+/pos", "players/ann/pos", []string{"ann"}, true},
		{"players/ann/pos", "players/ann/pos", nil, true},
		{"+/x", "$SYS/x", nil, false},
	}
	for _, tc := range testCases {
		t.Run(tc.filter+" "+tc.topic, func(t *testing.T) {
			t.Parallel()
			got, ok := mqttgame.AppendWildcards(nil, tc.filter, tc.topic)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Fatalf("AppendWildcards(%q, %q) = %q, %v; want %q, %v", tc.filter, tc.topic, got, ok, tc.want, tc.ok)
			}
			first, ok := mqttgame.Wildcard(tc.filter, tc.topic)
			wantFirst := ""
			if len(tc.want) > 0 {
				wantFirst = tc.want[0]
			}
			if ok != tc.ok || first != wantFirst {
				t.Fatalf("Wildcard(%q, %q) = %q, %v; want %q, %v", tc.filter, tc.topic, first, ok, wantFirst, tc.ok)
			}
		})
	}
}

// TestAppendWildcardsAllocatesNothing: filling a slice with room enough
// allocates nothing. It runs alone: it counts the allocations of the
// whole process.
func TestAppendWildcardsAllocatesNothing(t *testing.T) {
	dst := make([]string, 0, 4)
	allocs := testing.AllocsPerRun(100, func() {
		dst, _ = mqttgame.AppendWildcards(dst[:0], "room/+/players/+", "room/den/players/bob")
		_, _ = mqttgame.Wildcard("players/+/pos", "players/ann/pos")
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per call, want 0", allocs)
	}
}

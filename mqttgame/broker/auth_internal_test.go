package broker

import "testing"

func TestCovers(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		rule, sub string
		want      bool
	}{
		{"game/#", "game/lobby/chat/+", true},
		{"game/#", "game", true},
		{"game/#", "#", false},
		{"game/+/chat", "game/lobby/chat", true},
		{"game/+/chat", "game/+/chat", true},
		{"game/+/chat", "game/#", false},
		{"game/+/chat", "game/lobby/chat/x", false},
		{"game/lobby", "game/lobby/x", false},
		{"#", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"game/#", "$share/g/game/x", true},
	}
	for _, tc := range testCases {
		if got := covers(tc.rule, tc.sub); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.rule, tc.sub, got, tc.want)
		}
	}
}

func TestExpand(t *testing.T) {
	t.Parallel()
	if f, ok := expand("p/%u/%c", "ann", "c1"); !ok || f != "p/ann/c1" {
		t.Errorf("expand = %q, %v", f, ok)
	}
	for _, user := range []string{"", "a/b", "+", "#"} {
		if _, ok := expand("p/%u", user, "c"); ok {
			t.Errorf("user %q expanded a %%u rule", user)
		}
	}
}

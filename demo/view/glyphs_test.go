package view

import "testing"

func TestLegible(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ann", "ann"},
		{"Zoë Ψ Жора", "Zoë Ψ Жора"},
		{"ann😀", "ann?"},
		{"🎮🎮 bob", "?? bob"},
		{"", ""},
	} {
		if got := legible(tc.in); got != tc.want {
			t.Errorf("legible(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

package game

import "testing"

func TestColorOf(t *testing.T) {
	if ColorOf("ann") != ColorOf("ann") {
		t.Fatal("one name, two colours")
	}
	seen := map[string]string{}
	for _, n := range []string{"ann", "bob", "carol", "dan", "eve", "ann/#"} {
		c := ColorOf(n)
		if int(c.R)+int(c.G)+int(c.B) < 300 {
			t.Errorf("%s: %v is too dark for the dark background", n, c)
		}
		if other, ok := seen[Hex(c)]; ok {
			t.Errorf("%s and %s share the colour %s", n, other, Hex(c))
		}
		seen[Hex(c)] = n
		back, ok := ParseHex(Hex(c))
		if !ok || back != c {
			t.Errorf("ParseHex(Hex(%v)) = %v, %v", c, back, ok)
		}
	}
	for _, s := range []string{"", "#12345", "123456", "#12345g", "#1234567"} {
		if _, ok := ParseHex(s); ok {
			t.Errorf("ParseHex(%q) accepted", s)
		}
	}
}

func TestSuggestName(t *testing.T) {
	seen := map[string]bool{}
	for seed := range uint64(50) {
		n := SuggestName(seed)
		if len([]rune(n)) > MaxNameLength || n == "" {
			t.Fatalf("SuggestName(%d) = %q", seed, n)
		}
		seen[n] = true
	}
	if len(seen) < 45 {
		t.Fatalf("only %d different names from 50 seeds", len(seen))
	}
}

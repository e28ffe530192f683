package segment_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

func TestEscape(t *testing.T) {
	testCases := []struct {
		in, want string
	}{
		{"ann", "ann"},
		{"Ann-2.0", "Ann-2.0"},
		{"", "_"},
		{"_", "_5F"},
		{"a b", "a_20b"},
		{"ann/#1", "ann_2F_231"},
		{"+", "_2B"},
		{"$SYS", "_24SYS"},
		{"../bob", ".._2Fbob"},
		{"Zoë", "Zo_C3_AB"},
		{"\x00", "_00"},
	}
	for _, tc := range testCases {
		t.Run(tc.in, func(t *testing.T) {
			got := segment.Escape(tc.in)
			if got != tc.want {
				t.Fatalf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
			back, err := segment.Unescape(got)
			if err != nil || back != tc.in {
				t.Fatalf("Unescape(%q) = %q, %v; want %q", got, back, err, tc.in)
			}
		})
	}
}

// TestEscapeIsOneValidLevel: whatever the text, the escaped form used as a
// level gives a valid topic name with exactly that many levels.
func TestEscapeIsOneValidLevel(t *testing.T) {
	for _, s := range []string{"a/b/c", "#", "+/+", "/", "$share/g/x", "\xff\xfe", strings.Repeat("/#", 100), "日本語"} {
		topic := "room/" + segment.Escape(s) + "/score"
		if err := mqttgame.ValidateTopic(topic); err != nil {
			t.Errorf("%q: %v", s, err)
		}
		if n := strings.Count(topic, "/"); n != 2 {
			t.Errorf("%q gives %q, %d levels", s, topic, n+1)
		}
		if !mqttgame.Match("room/+/score", topic) {
			t.Errorf("%q: room/+/score does not match %q", s, topic)
		}
	}
}

func TestUnescapeRefuses(t *testing.T) {
	for _, s := range []string{"", "a/b", "__", "_4", "_4g", "_zz", "a#", "_61", "_2f"} {
		got, err := segment.Unescape(s)
		if !errors.Is(err, segment.ErrInvalid) {
			t.Errorf("Unescape(%q) = %q, %v; want ErrInvalid", s, got, err)
		}
	}
}

// FuzzEscape: the encoding round-trips and never leaves its alphabet.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "ann", "a/#+", "$x", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := segment.Escape(s)
		if strings.ContainsAny(e, "/+#$\x00") || !utf8.ValidString(e) {
			t.Fatalf("Escape(%q) = %q", s, e)
		}
		back, err := segment.Unescape(e)
		if err != nil || back != s {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
	})
}

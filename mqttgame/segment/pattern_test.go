package segment_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

func TestFillParse(t *testing.T) {
	testCases := []struct {
		pattern string
		values  []string
		want    string
	}{
		{"players/+/pos", []string{"ann"}, "players/ann/pos"},
		{"players/+/pos", []string{"ann/#1"}, "players/ann_2F_231/pos"},
		{"room/+/players/+", []string{"den", "+"}, "room/den/players/_2B"},
		{"+", []string{""}, "_"},
		{"scores", nil, "scores"},
	}
	for _, tc := range testCases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			got, err := segment.Fill(tc.pattern, tc.values...)
			if err != nil || got != tc.want {
				t.Fatalf("Fill(%q, %q) = %q, %v; want %q", tc.pattern, tc.values, got, err, tc.want)
			}
			if err := mqttgame.ValidateTopic(got); err != nil {
				t.Fatalf("Fill made an invalid topic: %v", err)
			}
			if !mqttgame.Match(tc.pattern, got) {
				t.Fatalf("%q does not match its pattern %q", got, tc.pattern)
			}
			back, err := segment.Parse(tc.pattern, got)
			if err != nil || !slices.Equal(back, tc.values) {
				t.Fatalf("Parse(%q, %q) = %q, %v; want %q", tc.pattern, got, back, err, tc.values)
			}
		})
	}
}

func TestFillRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		values  []string
	}{
		{"players/+/pos", nil},
		{"players/+/pos", []string{"a", "b"}},
		{"players/#", []string{"a"}},
	} {
		if got, err := segment.Fill(tc.pattern, tc.values...); err == nil {
			t.Errorf("Fill(%q, %q) = %q, want an error", tc.pattern, tc.values, got)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, topic string
		want           error
	}{
		{"players/+/pos", "players/ann", segment.ErrNoMatch},
		{"players/+/pos", "players/ann/pos/x", segment.ErrNoMatch},
		{"players/+/pos", "scores/ann/pos", segment.ErrNoMatch},
		{"players/+/pos", "players/a_zz/pos", segment.ErrInvalid},
		{"players/+/pos", "players/a b/pos", segment.ErrInvalid},
	} {
		if got, err := segment.Parse(tc.pattern, tc.topic); !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q, %q) = %q, %v; want %v", tc.pattern, tc.topic, got, err, tc.want)
		}
	}
}

package mqttgame_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
)

func TestValidateTopic(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		topic  string
		reason string // empty: valid
	}{
		{"simple", "chat/lobby", ""},
		{"one level", "a", ""},
		{"empty levels", "a//b/", ""},
		{"leading slash", "/a", ""},
		{"space and unicode", "salle de jeu/日本", ""},
		{"max length", strings.Repeat("a", 65535), ""},
		{"empty", "", "is empty"},
		{"plus", "a/+/b", "wildcard '+'"},
		{"hash", "a/#", "wildcard '#'"},
		{"plus inside level", "a+b", "wildcard '+'"},
		{"NUL", "a\x00b", "NUL"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
		{"surrogate half", "a\xed\xa0\x80", "not valid UTF-8"},
		{"too long", strings.Repeat("a", 65536), "over the limit of 65535"},
		{"dollar", "$SYS/x", "reserved for the broker"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			err := mqttgame.ValidateTopic(tc.topic)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("ValidateTopic(%q) = %v, want nil", tc.topic, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateTopic(%q) = nil, want an error about %q", tc.topic, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if !errors.Is(err, mqttgame.ErrInvalidTopic) || errors.Is(err, mqttgame.ErrInvalidFilter) {
				t.Errorf("error %v does not match ErrInvalidTopic alone", err)
			}
			var te *mqttgame.TopicError
			if !errors.As(err, &te) || te.Topic != tc.topic || te.Filter {
				t.Errorf("error %#v does not carry the topic", err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error message is %d bytes long; it should cut the topic", len(err.Error()))
			}
		})
	}
}

func TestValidateFilter(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		filter string
		reason string
	}{
		{"plain", "chat/lobby", ""},
		{"plus level", "players/+/pos", ""},
		{"plus alone", "+", ""},
		{"hash alone", "#", ""},
		{"hash last", "a/b/#", ""},
		{"plus and hash", "+/+/#", ""},
		{"sys", "$SYS/#", ""},
		{"shared", "$share/group/players/+/pos", ""},
		{"shared hash", "$share/g/#", ""},
		{"empty", "", "is empty"},
		{"hash not last", "a/#/b", "'#' must be the last level"},
		{"hash in level", "a/b#", "'#' must fill a whole level"},
		{"plus in level", "a+", "'+' must fill a whole level"},
		{"plus in middle level", "a/b+c/d", "'+' must fill a whole level"},
		{"NUL", "a/\x00", "NUL"},
		{"invalid UTF-8", "\xc3\x28", "not valid UTF-8"},
		{"too long", strings.Repeat("a", 70000), "over the limit"},
		{"share without filter", "$share/group", "$share/{group}/{filter}"},
		{"share bare", "$share", "$share/{group}/{filter}"},
		{"share empty group", "$share//a", "group name is empty"},
		{"share wildcard group", "$share/g+/a", "group name holds a wildcard"},
		{"share empty filter", "$share/g/", "no filter after the group name"},
		{"share bad inner filter", "$share/g/a/#/b", "'#' must be the last level"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			err := mqttgame.ValidateFilter(tc.filter)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("ValidateFilter(%q) = %v, want nil", tc.filter, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidateFilter(%q) = nil, want an error about %q", tc.filter, tc.reason)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if !errors.Is(err, mqttgame.ErrInvalidFilter) {
				t.Errorf("error %v does not match ErrInvalidFilter", err)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+", "a/b", true},
		{"a/+", "a/b/c", false},
		{"a/+", "a/", true},
		{"+/+", "/x", true},
		{"+", "a", true},
		{"+", "a/b", false},
		{"a/#", "a", true},
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "/", true},
		{"+/#", "a", true},
		{"players/+/pos", "players/7/pos", true},
		{"players/+/pos", "players/7/name", false},
		{"#", "$SYS/uptime", false},
		{"+/uptime", "$SYS/uptime", false},
		{"$SYS/#", "$SYS/uptime", true},
		{"$SYS/+", "$SYS/uptime", true},
		{"$share/g/players/+/pos", "players/1/pos", true},
		{"$share/g/#", "anything/here", true},
		{"$share/g/#", "$SYS/x", false},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
	}
	for _, tc := range testCases {
		if got := mqttgame.Match(tc.filter, tc.topic); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

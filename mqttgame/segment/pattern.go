package segment

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoMatch is returned by Parse for a topic that does not have the
// pattern's shape.
var ErrNoMatch = errors.New("segment: topic does not match the pattern")

// Fill builds a topic from a pattern whose '+' levels stand for values:
// each '+' is replaced by the next value, escaped. Fill("players/+/pos",
// "ann/#1") is "players/ann_2F_231/pos". The other levels are used as
// they are. It fails if the number of values is not the number of '+'
// levels, or if the pattern holds a '#'.
func Fill(pattern string, values ...string) (string, error) {
	var b strings.Builder
	n := 0
	for i, level := range strings.Split(pattern, "/") {
		if i > 0 {
			b.WriteByte('/')
		}
		switch level {
		case "#":
			return "", fmt.Errorf("segment: pattern %q: '#' cannot be filled, only '+'", pattern)
		case "+":
			if n < len(values) {
				b.WriteString(Escape(values[n]))
			}
			n++
		default:
			b.WriteString(level)
		}
	}
	if n != len(values) {
		return "", fmt.Errorf("segment: pattern %q has %d '+' levels, given %d values", pattern, n, len(values))
	}
	return b.String(), nil
}

// Parse is the reverse of Fill: it returns the values of topic's levels
// where pattern has a '+', unescaped. Parse("players/+/pos",
// "players/ann_2F_231/pos") is ["ann/#1"]. It fails with ErrNoMatch if
// topic does not have the pattern's shape, and with ErrInvalid if a level
// in a '+' place is not one Escape makes.
func Parse(pattern, topic string) ([]string, error) {
	var values []string
	p, t := pattern, topic
	for {
		pl, pRest, pMore := strings.Cut(p, "/")
		tl, tRest, tMore := strings.Cut(t, "/")
		switch {
		case pl == "+":
			v, err := Unescape(tl)
			if err != nil {
				return nil, fmt.Errorf("%w: level %q of %q", err, tl, topic)
			}
			values = append(values, v)
		case pl != tl:
			return nil, fmt.Errorf("%w: %q is not %q", ErrNoMatch, topic, pattern)
		}
		if pMore != tMore {
			return nil, fmt.Errorf("%w: %q is not %q", ErrNoMatch, topic, pattern)
		}
		if !pMore {
			return values, nil
		}
		p, t = pRest, tRest
	}
}

// Package segment turns any text, such as a player's nickname or a room
// name, into one safe level of an MQTT topic, and back.
//
// A topic built from what a player typed ("scores/" + nick) is a topic
// the player chooses: a '/' adds levels, a '+' or '#' makes the topic
// invalid, a leading '$' reaches the broker's own topics. Escape keeps
// letters, digits, '-' and '.' and writes every other byte as '_' and two
// hexadecimal digits, so the result is always exactly one level:
//
//	"ann"     -> "ann"
//	"ann/#1"  -> "ann_2F_231"
//	"Zoë"     -> "Zo_C3_AB"
//
// The encoding is one-to-one: two different names never share a level.
//
// Fill builds a whole topic from a pattern ("players/+/pos") and values,
// escaping each; Parse reads the values back from a topic that came
// through the pattern as a subscription filter.
package segment

import (
	"errors"
	"strings"
)

// ErrInvalid is returned by Unescape for a level Escape cannot have made.
var ErrInvalid = errors.New("segment: not an escaped topic level")

const hexDigits = "0123456789ABCDEF"

// empty stands for the empty string: a level of its own that Escape
// never makes otherwise, as '_' is always followed by two digits.
const empty = "_"

func kept(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' || b == '.'
}

// Escape returns s as one topic level holding only letters, digits, '-',
// '.' and '_'. The empty string becomes "_".
func Escape(s string) string {
	if s == "" {
		return empty
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !kept(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if kept(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Unescape returns the text Escape made level from, or ErrInvalid.
func Unescape(level string) (string, error) {
	if level == empty {
		return "", nil
	}
	if level == "" {
		return "", ErrInvalid
	}
	var b strings.Builder
	b.Grow(len(level))
	for i := 0; i < len(level); i++ {
		c := level[i]
		switch {
		case kept(c):
			b.WriteByte(c)
		case c == '_' && i+2 < len(level) && isHex(level[i+1]) && isHex(level[i+2]):
			v := unhex(level[i+1])<<4 | unhex(level[i+2])
			if kept(v) {
				return "", ErrInvalid // Escape would have kept it as is
			}
			b.WriteByte(v)
			i += 2
		default:
			return "", ErrInvalid
		}
	}
	return b.String(), nil
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'A' + 10
}

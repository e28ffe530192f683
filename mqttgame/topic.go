package mqttgame

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxTopicLength is the longest topic name or filter MQTT can carry, in bytes.
const MaxTopicLength = 65535

// sharePrefix starts a shared subscription: $share/{group}/{filter}.
const sharePrefix = "$share/"

// TopicError reports a topic name or filter that breaks a rule of MQTT.
// It matches ErrInvalidTopic or ErrInvalidFilter with errors.Is.
type TopicError struct {
	Topic  string // the offending name or filter, as given
	Filter bool   // true if Topic was used as a subscription filter
	Reason string // the rule it breaks
}

// Error names the topic or filter and the rule it breaks.
func (e *TopicError) Error() string {
	kind := "topic"
	if e.Filter {
		kind = "filter"
	}
	return fmt.Sprintf("mqttgame: invalid %s %s: %s", kind, quoteShort(e.Topic), e.Reason)
}

// Is reports whether target is ErrInvalidTopic (for a name) or
// ErrInvalidFilter (for a filter).
func (e *TopicError) Is(target error) bool {
	if e.Filter {
		return target == ErrInvalidFilter
	}
	return target == ErrInvalidTopic
}

// ValidateTopic reports whether name may be used as the topic of a
// message the game publishes. A valid name is not empty, is valid UTF-8
// without U+0000, holds no wildcard ('+' or '#'), is at most
// MaxTopicLength bytes long and does not start with '$', which MQTT keeps
// for the broker's own topics.
func ValidateTopic(name string) error {
	if reason := checkString(name); reason != "" {
		return &TopicError{Topic: name, Reason: reason}
	}
	if i := strings.IndexAny(name, "+#"); i >= 0 {
		return &TopicError{Topic: name, Reason: fmt.Sprintf("contains the wildcard %q; wildcards belong in subscription filters", name[i])}
	}
	if name[0] == '$' {
		return &TopicError{Topic: name, Reason: "starts with '$', which is reserved for the broker's own topics"}
	}
	return nil
}

// ValidateFilter reports whether filter may be subscribed to. '#' must be
// the last level and alone in it, '+' must fill a whole level, and a shared
// subscription ($share/group/filter) needs a group name without wildcards
// or '/' and a valid filter after it. The string rules of ValidateTopic
// apply too, except that '$' may start a filter ($SYS/#).
func ValidateFilter(filter string) error {
	if reason := checkString(filter); reason != "" {
		return &TopicError{Topic: filter, Filter: true, Reason: reason}
	}
	f := filter
	if strings.HasPrefix(f, sharePrefix) {
		rest := f[len(sharePrefix):]
		slash := strings.IndexByte(rest, '/')
		switch {
		case slash < 0:
			return &TopicError{Topic: filter, Filter: true, Reason: "a shared subscription needs $share/{group}/{filter}"}
		case slash == 0:
			return &TopicError{Topic: filter, Filter: true, Reason: "the share group name is empty"}
		case strings.ContainsAny(rest[:slash], "+#"):
			return &TopicError{Topic: filter, Filter: true, Reason: "the share group name holds a wildcard"}
		case slash == len(rest)-1:
			return &TopicError{Topic: filter, Filter: true, Reason: "the shared subscription has no filter after the group name"}
		}
		f = rest[slash+1:]
	} else if f == "$share" {
		return &TopicError{Topic: filter, Filter: true, Reason: "a shared subscription needs $share/{group}/{filter}"}
	}
	for level := 0; ; level++ {
		end := strings.IndexByte(f, '/')
		part := f
		if end >= 0 {
			part = f[:end]
		}
		if i := strings.IndexByte(part, '#'); i >= 0 {
			if len(part) != 1 {
				return &TopicError{Topic: filter, Filter: true, Reason: fmt.Sprintf("'#' must fill a whole level, not %q", part)}
			}
			if end >= 0 {
				return &TopicError{Topic: filter, Filter: true, Reason: "'#' must be the last level"}
			}
		}
		if i := strings.IndexByte(part, '+'); i >= 0 && len(part) != 1 {
			return &TopicError{Topic: filter, Filter: true, Reason: fmt.Sprintf("'+' must fill a whole level, not %q", part)}
		}
		if end < 0 {
			return nil
		}
		f = f[end+1:]
	}
}

// checkString applies the rules MQTT sets for every UTF-8 string used as a
// topic; it returns the broken rule, or "".
func checkString(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxTopicLength:
		return fmt.Sprintf("is %d bytes long, over the limit of %d", len(s), MaxTopicLength)
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains the NUL character U+0000"
	}
	return ""
}

// hasWildcard reports whether s is a filter rather than a plain topic name.
func hasWildcard(s string) bool {
	return strings.ContainsAny(s, "+#") || strings.HasPrefix(s, sharePrefix)
}

// Match reports whether the topic name matches the subscription filter.
// '+' matches one level, '#' the rest (including the parent level), and,
// as MQTT requires, a filter starting with a wildcard does not match a
// topic starting with '$'. A shared subscription matches what its inner
// filter matches. Neither argument is validated.
func Match(filter, topic string) bool {
	_, ok := matchLevels(nil, filter, topic, false)
	return ok
}

// matchLevels reports whether filter matches topic and, if collect, appends
// to dst the parts of topic its wildcards match.
func matchLevels(dst []string, filter, topic string, collect bool) ([]string, bool) {
	if strings.HasPrefix(filter, sharePrefix) {
		rest := filter[len(sharePrefix):]
		slash := strings.IndexByte(rest, '/')
		if slash < 0 {
			return dst, false
		}
		filter = rest[slash+1:]
	}
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return dst, false
	}
	n := len(dst)
	for {
		if filter == "#" {
			if collect {
				dst = append(dst, topic)
			}
			return dst, true
		}
		fEnd := strings.IndexByte(filter, '/')
		tEnd := strings.IndexByte(topic, '/')
		fPart, tPart := filter, topic
		if fEnd >= 0 {
			fPart = filter[:fEnd]
		}
		if tEnd >= 0 {
			tPart = topic[:tEnd]
		}
		switch {
		case fPart == "+":
			if collect {
				dst = append(dst, tPart)
			}
		case fPart != tPart:
			return dst[:n], false
		}
		switch {
		case fEnd < 0 && tEnd < 0:
			return dst, true
		case fEnd < 0:
			return dst[:n], false
		case tEnd < 0:
			// "a/#" matches "a": the filter may end in "/#".
			if filter[fEnd+1:] != "#" {
				return dst[:n], false
			}
			if collect {
				dst = append(dst, "")
			}
			return dst, true
		}
		filter, topic = filter[fEnd+1:], topic[tEnd+1:]
	}
}

// quoteShort quotes s for an error message, cutting very long values so an
// error never carries 64 KiB of topic.
func quoteShort(s string) string {
	const max = 64
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}

// Wildcard returns the level of topic that the first wildcard of filter
// matches, and whether filter matches topic at all: for the filter
// "players/+/pos" and the topic "players/ann/pos", "ann". A '#' gives the
// rest of the topic ("" when it matches the parent level). It allocates
// nothing; see AppendWildcards for filters with several wildcards, and
// segment.Unescape for levels a game escaped with segment.Escape.
func Wildcard(filter, topic string) (string, bool) {
	var buf [4]string
	parts, ok := matchLevels(buf[:0], filter, topic, true)
	if !ok || len(parts) == 0 {
		return "", ok
	}
	return parts[0], true
}

// AppendWildcards appends to dst, in order, the parts of topic that the
// wildcards of filter match, and reports whether filter matches topic
// (by the rules of Match; if not, dst is returned as it was). A '+' gives
// one level; a '#' gives the rest of the topic, levels and '/' included,
// or "" when it matches the parent level ("a/#" and "a"). The parts are
// substrings of topic: pass a reused slice to allocate nothing.
func AppendWildcards(dst []string, filter, topic string) ([]string, bool) {
	return matchLevels(dst, filter, topic, true)
}

package mqttgame

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/eclipse/paho.golang/packets"
)

// FuzzValidateTopic: any string is either a valid topic name by every
// rule of MQTT or refused with an error naming it.
func FuzzValidateTopic(f *testing.F) {
	for _, s := range []string{"chat/lobby", "", "a/+/b", "#", "$SYS/x", "a\x00b", "\xff", "a//b/", strings.Repeat("x", 70000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateTopic(s)
		valid := s != "" && len(s) <= MaxTopicLength && utf8.ValidString(s) &&
			!strings.ContainsAny(s, "+#\x00") && s[0] != '$'
		if (err == nil) != valid {
			t.Fatalf("ValidateTopic(%q) = %v, want valid=%v", s, err, valid)
		}
		var te *TopicError
		if err != nil && (!errors.As(err, &te) || te.Topic != s || !errors.Is(err, ErrInvalidTopic)) {
			t.Fatalf("ValidateTopic(%q) error %#v does not name the topic", s, err)
		}
		if err == nil && !Match(s, s) {
			t.Fatalf("valid topic %q does not match itself", s)
		}
	})
}

// FuzzMatch compares Match with a plain reading of MQTT's rules, for
// every valid filter and topic name the fuzzer makes.
func FuzzMatch(f *testing.F) {
	seeds := [][2]string{
		{"a/+/c", "a/b/c"}, {"a/#", "a"}, {"#", "$SYS/x"}, {"+/+", "/x"}, {"$share/g/a/+", "a/b"},
		{"a/+", "a/b/c"}, {"+", ""}, {"$SYS/#", "$SYS"}, {"a//#", "a//"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		if ValidateFilter(filter) != nil || checkString(topic) != "" || strings.ContainsAny(topic, "+#") {
			return
		}
		want := matchByLevels(filter, topic)
		if got := Match(filter, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, want %v", filter, topic, got, want)
		}
		parts, ok := AppendWildcards(nil, filter, topic)
		if ok != want {
			t.Fatalf("AppendWildcards(%q, %q) matched %v, want %v", filter, topic, ok, want)
		}
		if !ok {
			return
		}
		// Putting the parts back in the filter's wildcards gives the topic.
		inner := filter
		if strings.HasPrefix(inner, sharePrefix) {
			inner = strings.SplitN(inner, "/", 3)[2]
		}
		levels := strings.Split(inner, "/")
		rest := parts
		for i, l := range levels {
			if l == "+" || l == "#" {
				if len(rest) == 0 {
					t.Fatalf("AppendWildcards(%q, %q) = %q: too few parts", filter, topic, parts)
				}
				levels[i], rest = rest[0], rest[1:]
			}
		}
		rebuilt := strings.Join(levels, "/")
		// A '#' that matched the parent level ("a/#" and "a") gave "",
		// as one that matched an empty last level ("a/#" and "a/").
		parent := strings.HasSuffix(inner, "#") && parts[len(parts)-1] == "" && strings.TrimSuffix(rebuilt, "/") == topic
		if len(rest) != 0 || rebuilt != topic && !parent {
			t.Fatalf("AppendWildcards(%q, %q) = %q: the parts rebuild %q", filter, topic, parts, rebuilt)
		}
	})
}

// matchByLevels is MQTT's matching, level by level, written plainly.
func matchByLevels(filter, topic string) bool {
	if strings.HasPrefix(filter, "$share/") {
		filter = strings.SplitN(filter, "/", 3)[2]
	}
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true // also matches the parent level
		}
		if i >= len(tl) || f != "+" && f != tl[i] {
			return false
		}
	}
	return len(fl) == len(tl)
}

// FuzzValidateFilter: a refused filter is refused with ErrInvalidFilter,
// and an accepted one never places '#' anywhere but alone at the end.
func FuzzValidateFilter(f *testing.F) {
	for _, s := range []string{"a/#", "a/#/b", "a+", "+", "$share/g/#", "$share//a", "$share/g", "\xc3\x28"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateFilter(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("ValidateFilter(%q) = %v, not ErrInvalidFilter", s, err)
			}
			return
		}
		inner := s
		if strings.HasPrefix(s, sharePrefix) {
			inner = strings.SplitN(s, "/", 3)[2]
		}
		for i, level := range strings.Split(inner, "/") {
			if strings.Contains(level, "#") && (level != "#" || i != strings.Count(inner, "/")) {
				t.Fatalf("ValidateFilter(%q) accepted '#' in level %d", s, i)
			}
			if strings.Contains(level, "+") && level != "+" {
				t.Fatalf("ValidateFilter(%q) accepted %q", s, level)
			}
		}
	})
}

// FuzzInbox plays a random sequence of messages, holds and ticks against
// a small inbox: its counts always add up and its caps always hold.
func FuzzInbox(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0xff, 4, 5, 0xff, 0xff})
	f.Add(bytes.Repeat([]byte{7}, 200))
	f.Add([]byte{0x80, 0x81, 0x82, 0x83, 0x84, 0xff, 0x85, 0xff})
	f.Fuzz(func(t *testing.T, ops []byte) {
		// Room for a few topics and messages: messages are 256 to 300
		// bytes as counted, a topic 1 KiB and its queue's slots (up to
		// 3 of 168 bytes).
		const maxBytes, maxMessage = 4000, 300 + 1043 + 3*stagedSize
		acks := &fakeAcker{}
		in := testInbox(func(o *Options) {
			o.TopicQueueSize = 3
			o.MaxTopics = 4
			o.MaxBufferedBytes = maxBytes
		})
		in.acks = acks
		in.holdLimit = 5
		in.overflow = func(bool) {}
		in.setRules([]modeRule{{filter: "f/#", mode: FIFO}})
		token := ackToken(0)
		for _, op := range ops {
			if op == 0xff {
				in.update()
				continue
			}
			if in.overflowing {
				continue // the client reads nothing more until a tick
			}
			// Low bits pick the topic (some FIFO, some latest-wins), the
			// high bit asks for a QoS 1 message, which may be held.
			topic := []string{"f/a", "f/b", "l/c", "l/d", "f/e", "l/f"}[int(op&0x7f)%6]
			var tk ackToken
			if op&0x80 != 0 {
				token++
				tk = token
			}
			in.put(Message{Topic: topic, Payload: bytes.Repeat([]byte{op}, int(op%13))}, tk)
		}
		in.update()
		c := in.counters()
		dropped := c.replaced + c.queueFull + c.topicLimit + c.bytesLimit
		if c.received != c.shown+uint64(c.waiting)+uint64(c.holding)+dropped {
			t.Fatalf("counts do not add up: %+v", c)
		}
		if len(in.boxes) > 4 {
			t.Fatalf("%d topics kept, over MaxTopics 4", len(in.boxes))
		}
		for _, b := range in.boxes {
			if b.n > 3 {
				t.Fatalf("topic %s holds %d waiting, over TopicQueueSize 3", b.topic, b.n)
			}
		}
		if used := usedBytes(in); used != in.used {
			t.Fatalf("bytes held counted %d, are %d", in.used, used)
		}
		// Within MaxBufferedBytes, or past it by the one message (and its
		// new topic) that came alone or was held when reading stopped.
		if in.used > maxBytes+maxMessage+heldOverhead {
			t.Fatalf("%d bytes held (%d in held messages), over MaxBufferedBytes %d and one message", in.used, in.heldBytes, maxBytes)
		}
	})
}

// usedBytes counts the bytes an inbox holds, as MaxBufferedBytes counts
// them, from what it holds.
func usedBytes(in *inbox) int {
	n := 0
	topic := func(b *box) int { return topicOverhead + allocSize(len(b.topic)) + b.msgBytes }
	for _, b := range in.boxes {
		n += topic(b) + len(b.q)*stagedSize
		for i := range b.n {
			n += b.q[(b.head+i)%len(b.q)].size
		}
	}
	for _, b := range in.evicted {
		n += topic(b)
	}
	for _, h := range in.held {
		n += h.size + heldOverhead
	}
	return n
}

// FuzzFramingGuard feeds arbitrary bytes to the connection wrapper as if
// a broker sent them: paho reads packets until an error, never getting a
// packet larger than the limit, and nothing panics.
func FuzzFramingGuard(f *testing.F) {
	var ok bytes.Buffer
	(&packets.Publish{Topic: "a", Payload: []byte("hi"), Properties: &packets.Properties{}}).WriteTo(&ok)
	f.Add(ok.Bytes())
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0x7f})
	f.Add([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{0xd0, 0x00, 0xd0, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		const limit = 256
		a, b := net.Pipe()
		pc := newPacketConn(a, limit, nil, nil, nil, nil)
		go func() {
			b.Write(data)
			b.Close()
		}()
		// The bytes paho takes for each packet are counted as it reads
		// them. (Encoding the packet again to measure it would test paho's
		// encoder, which panics on some values its decoder accepts.)
		r := &countingReader{r: pc}
		for {
			before := r.n
			if _, err := packets.ReadPacket(r); err != nil {
				break
			}
			if size := r.n - before; size > limit {
				t.Fatalf("a %d-byte packet got past the %d-byte limit", size, limit)
			}
		}
		pc.Close()
		io.Copy(io.Discard, b)
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

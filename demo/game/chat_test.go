package game

import (
	"strings"
	"testing"
)

// TestChatInputAndScroll: typing stops at the length limit and drops
// control characters; scrolling back keeps its place while lines arrive,
// within the history.
func TestChatInputAndScroll(t *testing.T) {
	var c Chat
	c.Type([]rune("hi\x1b\tthere"))
	if got := string(c.Input); got != "hithere" {
		t.Fatalf("input %q", got)
	}
	c.Backspace()
	c.Type([]rune(strings.Repeat("x", 300)))
	if len(c.Input) != MaxChatLength {
		t.Fatalf("input holds %d runes, want %d", len(c.Input), MaxChatLength)
	}

	for range 10 {
		c.add(ChatLine{Text: "line"})
	}
	c.ScrollBy(3)
	c.add(ChatLine{Text: "new"})
	if c.Scroll != 4 {
		t.Fatalf("scroll %d after a new line, want 4 (the view stays put)", c.Scroll)
	}
	c.ScrollBy(100)
	if c.Scroll != len(c.Lines)-1 {
		t.Fatalf("scrolled to %d of %d lines", c.Scroll, len(c.Lines))
	}
	c.ScrollBy(-100)
	if c.Scroll != 0 {
		t.Fatalf("scroll %d, want back at the newest", c.Scroll)
	}
	for range ChatHistory + 5 {
		c.add(ChatLine{Text: "more"})
	}
	if len(c.Lines) != ChatHistory {
		t.Fatalf("history holds %d lines, want the limit %d", len(c.Lines), ChatHistory)
	}
}

// TestDecodeChat: a chat payload is read defensively: not JSON or blank
// text is refused; long text and names are cut. The sender is not in the
// payload's say: it is the topic's level.
func TestDecodeChat(t *testing.T) {
	if _, ok := decodeChat([]byte(`{"text":"b"}`)); !ok {
		t.Error("refused a line that names no sender in its payload")
	}
	for _, bad := range []string{`nope`, `{"id":"a","name":"a","text":"   "}`} {
		if _, ok := decodeChat([]byte(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
	m, ok := decodeChat([]byte(`{"id":"x","name":"` + strings.Repeat("n", 40) + `","text":"` + strings.Repeat("t", 400) + `\u0007"}`))
	if !ok || len([]rune(m.Name)) != MaxNameLength || len([]rune(m.Text)) != MaxChatLength {
		t.Fatalf("long message: %v, name %d runes, text %d runes", ok, len([]rune(m.Name)), len([]rune(m.Text)))
	}
}

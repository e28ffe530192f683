package game

import (
	"encoding/json"
	"image/color"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// Chat limits.
const (
	MaxChatLength  = 200 // runes in one message
	MaxNameLength  = 16  // runes in a nickname
	MaxRoomLength  = 24  // runes in a room name
	ChatHistory    = 300 // lines kept
	chatPublishQoS = mqttgame.AtLeastOnce
)

// ChatMessage is the payload of a chat line: JSON on the sender's chat
// topic (Topics.Chat/<PlayerID>). What the player typed travels here and
// never in a topic. Who sent it is the topic's level: ID and Name say it
// again for tools that show payloads alone, and readers ignore them.
type ChatMessage struct {
	V     int    `json:"v"`            // ProtocolVersion
	ID    string `json:"id,omitempty"` // the sender's PlayerID
	Name  string `json:"name,omitempty"`
	Color string `json:"color"`
	Text  string `json:"text"`
	Time  int64  `json:"t"` // Unix milliseconds
}

// LineKind tells a player's line from the game's own.
type LineKind uint8

// Kinds of chat lines.
const (
	SaidLine   LineKind = iota // a player said it
	SystemLine                 // the game says it: joins, leaves, records
)

// ChatLine is one line of the chat history.
type ChatLine struct {
	Kind  LineKind
	Name  string
	Color color.RGBA
	Text  string
	Time  time.Time
	Self  bool
}

// Chat is the chat panel's state: history, scroll position and the line
// being typed.
type Chat struct {
	Lines  []ChatLine
	Input  []rune
	Scroll int // lines scrolled back from the newest
}

// Type adds typed characters to the input line, up to MaxChatLength,
// dropping control characters.
func (c *Chat) Type(chars []rune) {
	for _, r := range chars {
		if len(c.Input) >= MaxChatLength {
			return
		}
		if unicode.IsPrint(r) {
			c.Input = append(c.Input, r)
		}
	}
}

// Backspace removes the last typed character.
func (c *Chat) Backspace() {
	if n := len(c.Input); n > 0 {
		c.Input = c.Input[:n-1]
	}
}

// ScrollBy moves the history view back (positive) or forward, within
// what there is.
func (c *Chat) ScrollBy(n int) {
	c.Scroll = max(0, min(c.Scroll+n, len(c.Lines)-1))
}

func (c *Chat) add(l ChatLine) {
	if len(c.Lines) == ChatHistory {
		copy(c.Lines, c.Lines[1:])
		c.Lines = c.Lines[:ChatHistory-1]
	}
	c.Lines = append(c.Lines, l)
	if c.Scroll > 0 {
		c.Scroll++ // keep the view still while the player reads back
	}
}

// decodeChat reads a chat payload, or reports false for anything that is
// not one. Over-long text and names are cut, control characters dropped.
func decodeChat(payload []byte) (ChatMessage, bool) {
	var m ChatMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return m, false
	}
	m.Name = clean(m.Name, MaxNameLength)
	m.Text = clean(m.Text, MaxChatLength)
	if m.Text == "" {
		return m, false
	}
	return m, true
}

// clean keeps the printable runes of s, at most max of them.
func clean(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			break
		}
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			continue
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

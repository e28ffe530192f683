package view

import (
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/image/font/sfnt"

	"github.com/mqttgame/mqttgame/assets"
)

// missingGlyph stands in for a character the demo's font cannot draw
// (an emoji in a name, say), instead of an empty box.
const missingGlyph = '?'

// glyphs tells which characters the demo's font can draw.
type glyphs struct {
	font *sfnt.Font
	mu   sync.Mutex
	buf  sfnt.Buffer
	has  map[rune]bool
}

var fontGlyphs = sync.OnceValue(func() *glyphs {
	f, err := sfnt.Parse(assets.Font("Go-Regular.ttf"))
	if err != nil {
		panic("the embedded font does not parse: " + err.Error())
	}
	return &glyphs{font: f, has: make(map[rune]bool)}
})

func (g *glyphs) covers(r rune) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	has, ok := g.has[r]
	if !ok {
		i, err := g.font.GlyphIndex(&g.buf, r)
		has = err == nil && i != 0
		g.has[r] = has
	}
	return has
}

// legible returns s with each character the font cannot draw replaced
// by missingGlyph. Text the font covers comes back as it is.
func legible(s string) string {
	first := -1
	for i, r := range s {
		if r >= utf8.RuneSelf && !fontGlyphs().covers(r) {
			first = i
			break
		}
	}
	if first < 0 {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:first])
	for _, r := range s[first:] {
		if r < utf8.RuneSelf || fontGlyphs().covers(r) {
			b.WriteRune(r)
		} else {
			b.WriteRune(missingGlyph)
		}
	}
	return b.String()
}

package view

import (
	"fmt"
	"image/color"
	"math"
	"strings"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/text/v2"
	"github.com/hajimehoshi/ebiten/v2/vector"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame/overlay/ebitenoverlay"
)

// The palette.
var (
	colBackTop    = color.RGBA{0x0b, 0x10, 0x2a, 0xff}
	colBackBottom = color.RGBA{0x1d, 0x14, 0x3c, 0xff}
	colPanel      = color.NRGBA{0x14, 0x1a, 0x36, 0xe6}
	colBorder     = color.RGBA{0x3a, 0x44, 0x7a, 0xff}
	colText       = color.RGBA{0xe8, 0xea, 0xf4, 0xff}
	colDim        = color.RGBA{0x8c, 0x94, 0xb4, 0xff}
	colGold       = color.RGBA{0xff, 0xd2, 0x3f, 0xff}
	colAccent     = color.RGBA{0x5c, 0xe1, 0xff, 0xff}
	colBad        = color.RGBA{0xff, 0x6b, 0x6b, 0xff}
	colButton     = color.RGBA{0x2f, 0x6f, 0xe0, 0xff}
	colField      = color.RGBA{0x08, 0x0c, 0x20, 0xff}
	colFresh      = color.NRGBA{0xff, 0xd2, 0x3f, 0x40}
)

type align uint8

const (
	left align = iota
	center
	right
)

// say draws s with its top at y; x is its left edge, centre or right edge.
func say(dst *ebiten.Image, s string, face text.Face, x, y float64, c color.Color, a align) {
	op := &text.DrawOptions{}
	op.GeoM.Translate(x, y)
	op.ColorScale.ScaleWithColor(c)
	switch a {
	case center:
		op.PrimaryAlign = text.AlignCenter
	case right:
		op.PrimaryAlign = text.AlignEnd
	}
	text.Draw(dst, legible(s), face, op)
}

func fill(dst *ebiten.Image, r game.Rect, c color.Color) {
	vector.FillRect(dst, float32(r.X), float32(r.Y), float32(r.W), float32(r.H), c, false)
}

func panel(dst *ebiten.Image, r game.Rect, title string, f *text.GoTextFace) {
	fill(dst, r, colPanel)
	vector.StrokeRect(dst, float32(r.X)+0.5, float32(r.Y)+0.5, float32(r.W)-1, float32(r.H)-1, 1, colBorder, false)
	if title != "" {
		say(dst, title, f, float64(r.X+10), float64(r.Y+8), colDim, left)
	}
}

func button(dst *ebiten.Image, r game.Rect, label string, f *text.GoTextFace) {
	fill(dst, r, colButton)
	vector.StrokeRect(dst, float32(r.X)+0.5, float32(r.Y)+0.5, float32(r.W)-1, float32(r.H)-1, 1, colAccent, false)
	say(dst, label, f, float64(r.X+r.W/2), float64(r.Y+r.H/2)-11, colText, center)
}

func withAlpha(c color.RGBA, a float64) color.RGBA {
	return color.RGBA{uint8(float64(c.R) * a), uint8(float64(c.G) * a), uint8(float64(c.B) * a), uint8(float64(c.A) * a)}
}

// drawBackground paints a night sky with a few twinkling stars.
func (v *View) drawBackground(dst *ebiten.Image) {
	const bands = 24
	for i := range bands {
		t := float64(i) / bands
		c := color.RGBA{
			uint8(float64(colBackTop.R) + t*float64(int(colBackBottom.R)-int(colBackTop.R))),
			uint8(float64(colBackTop.G) + t*float64(int(colBackBottom.G)-int(colBackTop.G))),
			uint8(float64(colBackTop.B) + t*float64(int(colBackBottom.B)-int(colBackTop.B))),
			0xff,
		}
		h := game.ScreenHeight / bands
		fill(dst, game.Rect{X: 0, Y: i * h, W: game.ScreenWidth, H: h + 1}, c)
	}
	tick := float64(v.g.Tick())
	for i := range 70 {
		x := float32((i*397 + 31) % game.ScreenWidth)
		y := float32((i*211 + 17) % game.ScreenHeight)
		tw := 0.5 + 0.5*math.Sin(tick/40+float64(i))
		vector.FillCircle(dst, x, y, 1+float32(i%3)*0.4, withAlpha(colText, 0.25+0.45*tw), true)
	}
}

// drawStar draws the star image centred on x, y, scaled.
func (v *View) drawStar(dst *ebiten.Image, x, y, scale float64) {
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(-24, -24)
	op.GeoM.Scale(scale, scale)
	op.GeoM.Translate(x, y)
	op.Filter = ebiten.FilterLinear
	dst.DrawImage(v.img.star, op)
}

func (v *View) drawBanner(dst *ebiten.Image, s string) {
	r := game.Rect{X: game.ScreenWidth/2 - 160, Y: game.ScreenHeight/2 - 30, W: 320, H: 60}
	fill(dst, r, color.RGBA{0, 0, 0, 0xd0})
	say(dst, s, v.faces.largeBold, float64(r.X+r.W/2), float64(r.Y+18), colText, center)
}

// caret blinks at the end of the field being typed in.
func (v *View) caret() string {
	if v.g.Tick()/30%2 == 0 {
		return "▌"
	}
	return ""
}

func (v *View) drawJoin(dst *ebiten.Image) {
	f := &v.faces
	v.drawStar(dst, game.ScreenWidth/2-text.Advance("Star Catch", f.title)/2-30, 80, 1)
	say(dst, "Star Catch", f.title, game.ScreenWidth/2, 60, colGold, center)
	say(dst, "catch falling stars, chat, and beat everyone's best — over MQTT", f.normal, game.ScreenWidth/2, 106, colDim, center)

	p := game.JoinPanel
	panel(dst, p, "", nil)
	say(dst, "Pick a name and a room", f.largeBold, float64(p.X+30), float64(p.Y+24), colText, left)

	field := func(r game.Rect, label, value string, focus bool) {
		say(dst, label, f.normal, float64(r.X), float64(r.Y-22), colDim, left)
		fill(dst, r, colField)
		border := colBorder
		if focus {
			border = colAccent
			value += v.caret()
		}
		vector.StrokeRect(dst, float32(r.X)+0.5, float32(r.Y)+0.5, float32(r.W)-1, float32(r.H)-1, 1, border, false)
		say(dst, value, f.large, float64(r.X+10), float64(r.Y+7), colText, left)
	}
	field(game.NameField, "Your name (your colour comes from it)", v.g.NameInput(), !v.g.FocusRoom())
	field(game.RoomField, "Room (players in the same room meet)", v.g.RoomInput(), v.g.FocusRoom())
	if name := strings.TrimSpace(v.g.NameInput()); name != "" {
		c := game.ColorOf(name)
		r := game.NameField
		vector.FillCircle(dst, float32(r.X+r.W-18), float32(r.Y+r.H/2), 9, c, true)
	}
	button(dst, game.JoinButton, "Join", f.largeBold)
	hint := "Tab switches field · Enter joins"
	if v.g.Joining() {
		hint = "Joining…"
	}
	if err := v.g.JoinError(); err != "" {
		// A refusal can be long (a broker's reason string): wrapped to
		// the screen, a line under another.
		v.wrapped = wrap(v.wrapped[:0], err, f.normal, game.ScreenWidth-80)
		for i, line := range v.wrapped {
			say(dst, line, f.normal, game.ScreenWidth/2, float64(p.Y+p.H+14+20*i), colBad, center)
		}
	} else {
		say(dst, hint, f.normal, game.ScreenWidth/2, float64(p.Y+p.H+14), colDim, center)
	}
	st := v.g.Status()
	where := "broker: " + st.Broker
	if st.Note != "" {
		where += " · " + st.Note
	}
	say(dst, where, f.small, game.ScreenWidth/2, game.ScreenHeight-28, colDim, center)
}

func (v *View) drawLobby(dst *ebiten.Image) {
	v.drawTopBar(dst)
	v.drawPlayers(dst)
	v.drawField(dst)
	v.drawBoard(dst)
	v.drawChat(dst)
	v.drawStatus(dst)
	v.drawCursors(dst)
}

func (v *View) drawTopBar(dst *ebiten.Image) {
	f := &v.faces
	fill(dst, game.TopBar, color.RGBA{0x06, 0x08, 0x18, 0xc0})
	v.drawStar(dst, 22, 18, 0.5)
	say(dst, "Star Catch", f.largeBold, 36, 8, colGold, left)
	x := 150.0
	say(dst, "room", f.normal, x, 11, colDim, left)
	x += text.Advance("room ", f.normal)
	say(dst, v.g.Room(), f.normalBold, x, 11, colText, left)
	x += text.Advance(v.g.Room(), f.normalBold) + 24
	say(dst, "you are", f.normal, x, 11, colDim, left)
	x += text.Advance("you are ", f.normal)
	vector.FillCircle(dst, float32(x+6), 19, 6, v.g.Color(), true)
	say(dst, v.g.Name(), f.normalBold, x+16, 11, v.g.Color(), left)
	say(dst, plural(v.g.OnlineCount(), "player online", "players online"), f.normal, game.ScreenWidth-14, 11, colText, right)
}

func (v *View) drawPlayers(dst *ebiten.Image) {
	f := &v.faces
	r := game.PlayersPanel
	panel(dst, r, "PLAYERS", f.small)
	v.players = v.g.AppendPlayers(v.players[:0])
	y := float64(r.Y + 32)
	for _, p := range v.players {
		if y > float64(r.Y+r.H-24) {
			say(dst, "…", f.normal, float64(r.X+12), y, colDim, left)
			break
		}
		c := withAlpha(p.Color, p.Alpha)
		if p.Online {
			vector.FillCircle(dst, float32(r.X+18), float32(y+9), 6, c, true)
		} else {
			vector.StrokeCircle(dst, float32(r.X+18), float32(y+9), 5.5, 1.5, c, true)
		}
		face := f.normal
		suffix := ""
		if p.Self {
			face, suffix = f.normalBold, " (you)"
		}
		detail := "left"
		if p.Online {
			detail = since(v.g.Now(), p.Since)
		}
		room := float64(r.W-42) - text.Advance(detail, f.small) - text.Advance(suffix, face) - 6
		say(dst, fit(p.Name, face, room)+suffix, face, float64(r.X+32), y, withAlpha(colText, p.Alpha), left)
		say(dst, detail, f.small, float64(r.X+r.W-10), y+2, withAlpha(colDim, p.Alpha), right)
		y += 24
	}
	if len(v.players) == 0 {
		say(dst, "connecting…", f.normal, float64(r.X+12), y, colDim, left)
	}
}

// since says how long ago t was, briefly.
func since(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh", int(d/time.Hour))
}

func (v *View) drawField(dst *ebiten.Image) {
	f := &v.faces
	r := game.FieldPanel
	fill(dst, r, colField)
	vector.StrokeRect(dst, float32(r.X)+0.5, float32(r.Y)+0.5, float32(r.W)-1, float32(r.H)-1, 1, colBorder, false)
	ox, oy := float64(r.X), float64(r.Y)
	round := v.g.Round()
	if round == nil {
		v.drawFieldIdle(dst)
		return
	}
	for _, it := range round.Items {
		img := v.img.star
		switch it.Kind {
		case game.Comet:
			img = v.img.comet
		case game.Rock:
			img = v.img.rock
		}
		w, h := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
		op := &ebiten.DrawImageOptions{}
		op.GeoM.Translate(-w/2, -h/2)
		if it.Kind != game.Comet {
			op.GeoM.Rotate(it.Spin)
		}
		op.GeoM.Translate(ox+it.X, oy+it.Y)
		op.Filter = ebiten.FilterLinear
		dst.DrawImage(img, op)
	}
	op := &ebiten.DrawImageOptions{}
	op.GeoM.Translate(ox+round.BasketX-game.BasketWidth/2, oy+game.BasketY)
	dst.DrawImage(v.img.basket, op)
	for _, p := range round.Popups {
		c := colGold
		if !p.Good {
			c = colBad
		}
		a := 1 - float64(p.Age)/game.PopupTicks
		say(dst, p.Text, f.largeBold, ox+p.X, oy+p.Y, withAlpha(c, a), center)
	}
	say(dst, fmt.Sprintf("%d", round.Score), f.hud, ox+12, oy+8, colGold, left)
	timeColor := colText
	if round.SecondsLeft() <= 5 {
		timeColor = colBad
	}
	say(dst, fmt.Sprintf("%ds", round.SecondsLeft()), f.hud, ox+float64(r.W)-12, oy+8, timeColor, right)
	if m := round.Multiplier(); m > 1 {
		say(dst, fmt.Sprintf("combo ×%d", m), f.normalBold, ox+float64(r.W)/2, oy+14, colAccent, center)
	}
	say(dst, "Esc gives up", f.small, ox+float64(r.W)/2, oy+float64(r.H)-18, colDim, center)
}

func (v *View) drawFieldIdle(dst *ebiten.Image) {
	f := &v.faces
	r := game.FieldPanel
	cx := float64(r.X + r.W/2)
	y := float64(r.Y + 40)
	say(dst, "Catch the falling stars!", f.largeBold, cx, y, colText, center)
	y += 34
	for _, l := range []string{
		"Move the basket with the mouse or the arrow keys.",
		"Stars score 1 × combo, blue comets 5 × combo;",
		"rocks cost 3 and break the combo. 30 seconds.",
	} {
		say(dst, l, f.normal, cx, y, colDim, center)
		y += 20
	}
	res, ok := v.g.LastResult()
	if !ok {
		op := &ebiten.DrawImageOptions{}
		op.GeoM.Translate(-24, -24)
		op.GeoM.Rotate(float64(v.g.Tick()) / 90)
		op.GeoM.Translate(cx, float64(game.PlayButton.Y-36))
		op.Filter = ebiten.FilterLinear
		dst.DrawImage(v.img.star, op)
	} else {
		msg := fmt.Sprintf("You scored %d", res.Score)
		c := colText
		if res.NewBest {
			msg += " — a new personal best!"
			c = colGold
		} else {
			msg += fmt.Sprintf(" (your best: %d)", res.Best)
		}
		say(dst, msg, f.largeBold, cx, float64(game.PlayButton.Y-34), c, center)
	}
	button(dst, game.PlayButton, "PLAY", f.largeBold)
	hint := "or press Space with an empty chat line"
	if best, ok := v.g.Best(); ok {
		hint = fmt.Sprintf("your best: %d · %s", best, hint)
	}
	say(dst, hint, f.small, cx, float64(game.PlayButton.Y+game.PlayButton.H+10), colDim, center)
}

func (v *View) drawBoard(dst *ebiten.Image) {
	f := &v.faces
	r := game.BoardPanel
	panel(dst, r, "TOP 10", f.small)
	if !v.g.ScoresLoaded() {
		say(dst, "loading scores…", f.normal, float64(r.X+12), float64(r.Y+36), colDim, left)
		return
	}
	v.scores = v.g.AppendTop(v.scores[:0])
	if len(v.scores) == 0 {
		say(dst, "No scores yet: be the first!", f.normal, float64(r.X+12), float64(r.Y+36), colDim, left)
		return
	}
	y := float64(r.Y + 32)
	for _, s := range v.scores {
		if s.Fresh {
			fill(dst, game.Rect{X: r.X + 4, Y: int(y) - 3, W: r.W - 8, H: 30}, colFresh)
		}
		rankColor := colDim
		if s.Rank == 1 {
			rankColor = colGold
		}
		say(dst, fmt.Sprintf("%d.", s.Rank), f.normalBold, float64(r.X+30), y, rankColor, right)
		face := f.normal
		if s.Self {
			face = f.normalBold
		}
		say(dst, s.Name, face, float64(r.X+38), y, s.Color, left)
		say(dst, s.Date.Local().Format("Jan 2"), f.small, float64(r.X+38), y+15, colDim, left)
		say(dst, fmt.Sprintf("%d", s.Score), f.largeBold, float64(r.X+r.W-12), y+2, colText, right)
		y += 32
	}
}

func (v *View) drawChat(dst *ebiten.Image) {
	f := &v.faces
	r := game.ChatPanel
	panel(dst, r, "", nil)
	chat := v.g.Chat()
	const lineH = 18
	inputY := float64(r.Y + r.H - 26)
	fill(dst, game.Rect{X: r.X + 4, Y: int(inputY) - 4, W: r.W - 8, H: 26}, colField)
	switch {
	case v.g.Round() != nil:
		say(dst, "chat is paused during a round", f.normal, float64(r.X+12), inputY, colDim, left)
	case len(chat.Input) == 0:
		say(dst, "type to chat · Enter sends · Space on an empty line plays"+v.caret(), f.normal, float64(r.X+12), inputY, colDim, left)
	default:
		line := string(chat.Input)
		// Show the end of a long line.
		for text.Advance("> "+line, f.normal) > float64(r.W-80) {
			_, size := firstRune(line)
			line = line[size:]
		}
		say(dst, "> "+line+v.caret(), f.normal, float64(r.X+12), inputY, colText, left)
		say(dst, fmt.Sprintf("%d/%d", len(chat.Input), game.MaxChatLength), f.small, float64(r.X+r.W-10), inputY+2, colDim, right)
	}

	// History, newest at the bottom, wrapped to the panel's width.
	maxLines := int((inputY - float64(r.Y) - 10) / lineH)
	width := float64(r.W - 24)
	y := inputY - 8 - lineH
	shown := 0
	skip := chat.Scroll
	for i := len(chat.Lines) - 1; i >= 0 && shown < maxLines; i-- {
		if skip > 0 {
			skip--
			continue
		}
		l := chat.Lines[i]
		prefix := ""
		if l.Kind == game.SaidLine {
			prefix = l.Name + ": "
		}
		v.wrapped = wrap(v.wrapped[:0], prefix+l.Text, f.normal, width)
		for j := len(v.wrapped) - 1; j >= 0 && shown < maxLines; j-- {
			x := float64(r.X + 12)
			seg := v.wrapped[j]
			if j == 0 && prefix != "" {
				say(dst, l.Name, f.normalBold, x, y, l.Color, left)
				x += text.Advance(l.Name, f.normalBold)
				seg = seg[len(l.Name):]
			}
			c := colText
			if l.Kind == game.SystemLine {
				c = l.Color
			}
			say(dst, seg, f.normal, x, y, c, left)
			y -= lineH
			shown++
		}
	}
	if chat.Scroll > 0 {
		say(dst, fmt.Sprintf("↓ %d newer (scroll down)", chat.Scroll), f.small, float64(r.X+r.W-10), float64(r.Y+6), colAccent, right)
	}
}

// fit cuts s to width, ending it with "…" when it had to cut.
func fit(s string, face text.Face, width float64) string {
	if text.Advance(s, face) <= width {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && text.Advance(string(r)+"…", face) > width {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

func firstRune(s string) (rune, int) {
	for i, r := range s {
		if i > 0 {
			return r, i
		}
	}
	return 0, len(s)
}

// wrap breaks s into lines no wider than width, at spaces when it can.
func wrap(dst []string, s string, face text.Face, width float64) []string {
	for s != "" {
		if text.Advance(s, face) <= width {
			return append(dst, s)
		}
		cut := 0
		lastSpace := -1
		for i := range s {
			if text.Advance(s[:i], face) > width {
				break
			}
			cut = i
			if s[i] == ' ' {
				lastSpace = i
			}
		}
		if lastSpace > 0 {
			cut = lastSpace
		}
		if cut == 0 {
			_, cut = firstRune(s)
		}
		dst = append(dst, s[:cut])
		s = strings.TrimLeft(s[cut:], " ")
	}
	return dst
}

func (v *View) drawStatus(dst *ebiten.Image) {
	r := game.StatusPanel
	panel(dst, r, "CONNECTION", v.faces.small)
	v.status.Draw(dst, v.g.Status(), &ebitenoverlay.Options{
		X: float64(r.X + 4), Y: float64(r.Y + 26), Face: v.faces.small, LineHeight: 16,
		Background: color.Transparent, Now: v.g.Now, MaxWidth: float64(r.W - 8),
	})
	say(dst, "F10 or closing the window leaves the room", v.faces.small, float64(r.X+10), float64(r.Y+r.H-20), colDim, left)
}

func (v *View) drawCursors(dst *ebiten.Image) {
	v.cursors = v.g.AppendCursors(v.cursors[:0])
	for _, c := range v.cursors {
		op := &ebiten.DrawImageOptions{}
		op.GeoM.Translate(c.X, c.Y)
		op.ColorScale.ScaleWithColor(c.Color)
		op.ColorScale.ScaleAlpha(float32(c.Alpha))
		dst.DrawImage(v.img.cursor, op)
		say(dst, c.Name, v.faces.small, c.X+20, c.Y+16, withAlpha(c.Color, c.Alpha), left)
	}
}

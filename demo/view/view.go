// Package view draws the demo with Ebitengine and turns the player's
// keys, mouse and touches into game.Input. It holds no game logic: that
// is package game, which runs without a window.
package view

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hajimehoshi/ebiten/v2"
	"github.com/hajimehoshi/ebiten/v2/inpututil"
	"github.com/hajimehoshi/ebiten/v2/text/v2"

	"github.com/mqttgame/mqttgame/assets"
	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame/overlay/ebitenoverlay"
)

// Options configures a View.
type Options struct {
	// Bot, if set, plays instead of the player.
	Bot *game.Bot
	// Screenshot, if set, is where the view saves a PNG of the window
	// once another player is online and ScreenshotAfter has passed since
	// joining (or, if nobody comes, 20 s later). The game goes on.
	Screenshot      string
	ScreenshotAfter time.Duration
	// Logger receives what the view does (screenshots, leaving).
	Logger *slog.Logger
}

// leaveTimeout bounds the wait for the broker to take the player's leave.
const leaveTimeout = 2 * time.Second

// View is the ebiten.Game of the demo.
type View struct {
	g    *game.Game
	opts Options
	log  *slog.Logger

	regular, bold *text.GoTextFaceSource
	faces         faces
	img           images
	status        ebitenoverlay.Drawer
	inspect       inspector // the page's state for the browser's console

	chars      []rune
	in         game.Input
	quit       atomic.Bool
	leaving    time.Time
	joinedAt   time.Time
	shotDone   bool
	shotPixels []byte

	// Per-frame buffers.
	players []game.PlayerRow
	scores  []game.ScoreRow
	cursors []game.Cursor
	wrapped []string
}

type faces struct {
	small, normal, large, title, hud *text.GoTextFace
	normalBold, largeBold            *text.GoTextFace
}

type images struct {
	star, comet, rock, basket, cursor *ebiten.Image
	icon                              image.Image
}

// New returns the view of g.
func New(g *game.Game, opts Options) (*View, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	v := &View{g: g, opts: opts, log: opts.Logger}
	var err error
	if v.regular, err = text.NewGoTextFaceSource(bytes.NewReader(assets.Font("Go-Regular.ttf"))); err != nil {
		return nil, err
	}
	if v.bold, err = text.NewGoTextFaceSource(bytes.NewReader(assets.Font("Go-Bold.ttf"))); err != nil {
		return nil, err
	}
	v.faces = faces{
		small:      &text.GoTextFace{Source: v.regular, Size: 12},
		normal:     &text.GoTextFace{Source: v.regular, Size: 14},
		normalBold: &text.GoTextFace{Source: v.bold, Size: 14},
		large:      &text.GoTextFace{Source: v.regular, Size: 18},
		largeBold:  &text.GoTextFace{Source: v.bold, Size: 18},
		hud:        &text.GoTextFace{Source: v.bold, Size: 22},
		title:      &text.GoTextFace{Source: v.bold, Size: 34},
	}
	v.img = images{
		star:   ebiten.NewImageFromImage(assets.Image("star.png")),
		comet:  ebiten.NewImageFromImage(assets.Image("comet.png")),
		rock:   ebiten.NewImageFromImage(assets.Image("rock.png")),
		basket: ebiten.NewImageFromImage(assets.Image("basket.png")),
		cursor: ebiten.NewImageFromImage(assets.Image("cursor.png")),
		icon:   assets.Image("icon.png"),
	}
	v.inspect.start()
	return v, nil
}

// SetupWindow sets the window's title, size and icon, before RunGame.
func (v *View) SetupWindow() {
	ebiten.SetWindowTitle("Star Catch — an mqttgame demo")
	ebiten.SetWindowSize(game.ScreenWidth, game.ScreenHeight)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetWindowIcon([]image.Image{v.img.icon})
	// Two windows side by side both keep playing.
	ebiten.SetRunnableOnUnfocused(true)
	// Closing the window leaves the room first, so the others see it.
	ebiten.SetWindowClosingHandled(true)
}

// RequestQuit asks the game to leave the room and end. It may be called
// from any goroutine (a signal handler).
func (v *View) RequestQuit() { v.quit.Store(true) }

// Update runs one tick of the game.
func (v *View) Update() error {
	v.inspect.answer(v.g) // between ticks: the state as of the last one
	if ebiten.IsWindowBeingClosed() || inpututil.IsKeyJustPressed(ebiten.KeyF10) {
		v.quit.Store(true)
	}
	if v.quit.Load() && v.leaving.IsZero() {
		v.leaving = time.Now()
		v.log.Info("leaving the room")
		v.g.Leave()
	}
	if !v.leaving.IsZero() {
		v.g.Update(&game.Input{})
		if v.g.Phase() == game.PhaseLeft || time.Since(v.leaving) > leaveTimeout {
			return ebiten.Termination
		}
		return nil
	}

	if v.opts.Bot != nil {
		in := v.opts.Bot.Input(v.g)
		v.g.Update(&in)
	} else {
		v.readInput()
		v.g.Update(&v.in)
	}
	if v.joinedAt.IsZero() && v.g.Phase() == game.PhaseLobby {
		v.joinedAt = time.Now()
	}
	return nil
}

// readInput turns this tick's keys, mouse and touches into v.in.
func (v *View) readInput() {
	in := &v.in
	v.chars = ebiten.AppendInputChars(v.chars[:0])
	*in = game.Input{Chars: v.chars}
	in.Backspace = repeating(ebiten.KeyBackspace)
	in.Enter = inpututil.IsKeyJustPressed(ebiten.KeyEnter) || inpututil.IsKeyJustPressed(ebiten.KeyNumpadEnter)
	in.Tab = inpututil.IsKeyJustPressed(ebiten.KeyTab)
	in.Escape = inpututil.IsKeyJustPressed(ebiten.KeyEscape)
	in.Left = ebiten.IsKeyPressed(ebiten.KeyArrowLeft)
	in.Right = ebiten.IsKeyPressed(ebiten.KeyArrowRight)
	if _, dy := ebiten.Wheel(); dy > 0 {
		in.Scroll = 3
	} else if dy < 0 {
		in.Scroll = -3
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyPageUp) {
		in.Scroll += 8
	}
	if inpututil.IsKeyJustPressed(ebiten.KeyPageDown) {
		in.Scroll -= 8
	}
	in.MouseX, in.MouseY = ebiten.CursorPosition()
	in.MouseIn = in.MouseX >= 0 && in.MouseY >= 0 && in.MouseX < game.ScreenWidth && in.MouseY < game.ScreenHeight
	in.Click = inpututil.IsMouseButtonJustPressed(ebiten.MouseButtonLeft)
	// A touch is a click and moves the pointer (phones, tablets).
	var touches [4]ebiten.TouchID
	for _, id := range inpututil.AppendJustPressedTouchIDs(touches[:0]) {
		in.MouseX, in.MouseY = ebiten.TouchPosition(id)
		in.MouseIn, in.Click = true, true
	}
	for _, id := range ebiten.AppendTouchIDs(touches[:0]) {
		in.MouseX, in.MouseY = ebiten.TouchPosition(id)
		in.MouseIn = true
	}
}

// repeating reports a key pressed this tick, or held long enough to repeat.
func repeating(k ebiten.Key) bool {
	d := inpututil.KeyPressDuration(k)
	return d == 1 || d > 30 && (d-30)%3 == 0
}

// Layout fixes the game's logical size; Ebitengine scales it to the window.
func (v *View) Layout(int, int) (int, int) { return game.ScreenWidth, game.ScreenHeight }

// Draw draws the frame.
func (v *View) Draw(screen *ebiten.Image) {
	v.drawBackground(screen)
	switch v.g.Phase() {
	case game.PhaseJoin:
		v.drawJoin(screen)
	default:
		v.drawLobby(screen)
	}
	if !v.leaving.IsZero() {
		v.drawBanner(screen, "Leaving the room…")
	}
	v.maybeScreenshot(screen)
}

// maybeScreenshot saves the frame once, when the Screenshot option asks.
func (v *View) maybeScreenshot(screen *ebiten.Image) {
	if v.opts.Screenshot == "" || v.shotDone || v.joinedAt.IsZero() {
		return
	}
	since := time.Since(v.joinedAt)
	others := v.g.OnlineCount() > 1
	if !(others && since >= v.opts.ScreenshotAfter) && since < v.opts.ScreenshotAfter+20*time.Second {
		return
	}
	v.shotDone = true
	b := screen.Bounds()
	if len(v.shotPixels) != 4*b.Dx()*b.Dy() {
		v.shotPixels = make([]byte, 4*b.Dx()*b.Dy())
	}
	screen.ReadPixels(v.shotPixels)
	img := &image.RGBA{Pix: v.shotPixels, Stride: 4 * b.Dx(), Rect: image.Rect(0, 0, b.Dx(), b.Dy())}
	if err := savePNG(v.opts.Screenshot, img); err != nil {
		v.log.Error("screenshot failed", "err", err)
		return
	}
	v.log.Info("screenshot saved", "path", v.opts.Screenshot, "online", v.g.OnlineCount())
}

// savePNG writes img to path through a temporary file, so a reader never
// sees half a picture.
func savePNG(path string, img image.Image) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

//go:build js

package view

import (
	"encoding/json"
	"syscall/js"

	"github.com/mqttgame/mqttgame/demo/game"
)

// InspectGlobal names the page's inspector, a debugging aid: in the
// browser's console,
//
//	await starCatch.state()
//
// gives what the page shows: the phase, the connection, the players
// panel and the chat, as of the game's last tick (PageState). Tests that
// drive the page in a browser read it the same way. It only reads: the
// game is played with the page's keyboard and mouse.
const InspectGlobal = "starCatch"

// inspector answers state() calls from the game loop, so that the state
// is read between ticks, never during one.
type inspector struct {
	asks chan js.Value // the resolve functions of waiting state() calls
}

// maxAsks bounds the state() calls waiting for a tick; more are refused
// (a hidden tab does not tick).
const maxAsks = 64

func (in *inspector) start() {
	in.asks = make(chan js.Value, maxAsks)
	executor := js.FuncOf(func(_ js.Value, args []js.Value) any {
		select {
		case in.asks <- args[0]:
		default:
			args[1].Invoke(js.Global().Get("Error").New(InspectGlobal + ": too many state() calls waiting for a tick"))
		}
		return nil
	})
	state := js.FuncOf(func(js.Value, []js.Value) any {
		return js.Global().Get("Promise").New(executor)
	})
	obj := js.Global().Get("Object").New()
	obj.Set("state", state)
	js.Global().Set(InspectGlobal, obj)
}

// answer resolves the waiting state() calls; View.Update calls it each tick.
func (in *inspector) answer(g *game.Game) {
	for {
		select {
		case resolve := <-in.asks:
			b, err := json.Marshal(pageStateOf(g))
			if err != nil {
				b = []byte("null")
			}
			resolve.Invoke(js.Global().Get("JSON").Call("parse", string(b)))
		default:
			return
		}
	}
}

// PageState is what starCatch.state() resolves to.
type PageState struct {
	Phase     string       `json:"phase"` // join, lobby, leaving or left
	Name      string       `json:"name"`
	Room      string       `json:"room"`
	ID        string       `json:"id"` // the player's topic level
	Connected bool         `json:"connected"`
	Broker    string       `json:"broker"`
	Error     string       `json:"error,omitempty"`     // the status panel's last error
	JoinError string       `json:"joinError,omitempty"` // why joining failed
	Players   []PagePlayer `json:"players"`             // the players panel, in its order
	Chat      []PageLine   `json:"chat"`                // the chat history, oldest first
}

// PagePlayer is a line of the players panel.
type PagePlayer struct {
	Name   string `json:"name"`
	Online bool   `json:"online"`
	Self   bool   `json:"self,omitempty"`
}

// PageLine is a line of the chat.
type PageLine struct {
	Name   string `json:"name,omitempty"` // "" for the game's own lines
	Text   string `json:"text"`
	Self   bool   `json:"self,omitempty"`
	System bool   `json:"system,omitempty"` // joins, leaves, connection changes, records
}

var phaseNames = [...]string{game.PhaseJoin: "join", game.PhaseLobby: "lobby", game.PhaseLeaving: "leaving", game.PhaseLeft: "left"}

func pageStateOf(g *game.Game) *PageState {
	st := g.Status()
	s := &PageState{
		Name: g.Name(), Room: g.Room(), ID: g.ID(),
		Connected: st.Connected, Broker: st.Broker, Error: st.Err, JoinError: g.JoinError(),
		Players: []PagePlayer{}, Chat: []PageLine{},
	}
	if int(g.Phase()) < len(phaseNames) {
		s.Phase = phaseNames[g.Phase()]
	}
	for _, p := range g.AppendPlayers(nil) {
		s.Players = append(s.Players, PagePlayer{Name: p.Name, Online: p.Online, Self: p.Self})
	}
	for _, l := range g.Chat().Lines {
		s.Chat = append(s.Chat, PageLine{Name: l.Name, Text: l.Text, Self: l.Self, System: l.Kind == game.SystemLine})
	}
	return s
}

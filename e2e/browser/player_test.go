//go:build !js

package browser_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
)

// nativePlayer is a player on a native Go client of the library, in the
// demo's room: its presence record, the room's roster and chat, in the
// demo's encoding. It plays with the page's player without sharing any
// of the page's code but the topics and payloads.
type nativePlayer struct {
	t      *testing.T
	name   string
	topics game.Topics
	mq     *mqttgame.Client
	roster *presence.Roster
	heard  []game.ChatMessage // the room's chat, as received
	msgs   []mqttgame.Message
}

// joinNative claims name from the hosting process at web (its /join, as a
// native copy of the demo joining it does) and connects to its broker.
func joinNative(t *testing.T, web, brokerURL, room, name string) *nativePlayer {
	t.Helper()
	id := game.PlayerID(name)
	key := make([]byte, 16)
	rand.Read(key)
	password := hex.EncodeToString(key)
	resp, err := http.Get(web + "join?" + url.Values{"player": {id}, "key": {password}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	var answer struct{ Username string }
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &answer) != nil || answer.Username != id {
		t.Fatalf("claiming %q: %s %s", name, resp.Status, body)
	}

	p := &nativePlayer{t: t, name: name, topics: game.TopicsOf(room)}
	opts := mqttgame.Options{
		Brokers:  []string{brokerURL},
		ClientID: game.ClientID(room, name),
		Username: answer.Username,
		Password: password,
	}
	pcfg := presence.Config{Topic: p.topics.Presence, ID: id, Name: name, Color: game.Hex(game.ColorOf(name))}
	if err := presence.Prepare(&opts, pcfg); err != nil {
		t.Fatal(err)
	}
	if p.mq, err = mqttgame.New(&opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.mq.Close() })
	if p.roster, err = presence.New(p.mq, pcfg); err != nil {
		t.Fatal(err)
	}
	if err := p.mq.SubscribeWith(p.topics.Chat+"/+", mqttgame.SubscribeOptions{QoS: mqttgame.AtLeastOnce, DataLoss: mqttgame.FIFO}); err != nil {
		t.Fatal(err)
	}
	if err := p.mq.Connect(); err != nil {
		t.Fatal(err)
	}
	return p
}

// tick runs one tick: what arrived becomes visible.
func (p *nativePlayer) tick() {
	p.mq.Update()
	p.roster.Update()
	p.msgs = p.mq.AppendMessages(p.msgs[:0], p.topics.Chat+"/+")
	for _, m := range p.msgs {
		var c game.ChatMessage
		if json.Unmarshal(m.Payload, &c) == nil {
			c.ID, _ = mqttgame.Wildcard(p.topics.Chat+"/+", m.Topic) // who said it is the topic's
			p.heard = append(p.heard, c)
		}
	}
}

// waitFor ticks, as a game at 100 Hz does, until cond holds.
func (p *nativePlayer) waitFor(what string, d time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for {
		p.tick()
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: waited %v for %s", p.name, d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// say sends a chat line as the demo does.
func (p *nativePlayer) say(text string) {
	p.t.Helper()
	payload, err := json.Marshal(game.ChatMessage{
		V: game.ProtocolVersion, ID: game.PlayerID(p.name), Name: p.name, Color: game.Hex(game.ColorOf(p.name)),
		Text: text, Time: time.Now().UnixMilli(),
	})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.mq.PublishMessage(&mqttgame.Message{Topic: p.topics.Chat + "/" + game.PlayerID(p.name), Payload: payload, QoS: mqttgame.AtLeastOnce, ContentType: "application/json", PayloadUTF8: true}); err != nil {
		p.t.Fatal(err)
	}
}

// hasHeard reports whether a chat line from the player with this ID and
// text arrived.
func (p *nativePlayer) hasHeard(id, text string) bool {
	for _, c := range p.heard {
		if c.ID == id && c.Text == text {
			return true
		}
	}
	return false
}

// sees reports whether the roster has the player with this ID, online or
// not as asked.
func (p *nativePlayer) sees(id string, online bool) bool {
	pl, ok := p.roster.Player(id)
	return ok && pl.Online == online
}

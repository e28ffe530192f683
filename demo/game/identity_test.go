package game

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestNamesAreTheBrokersNotThePayloads: on a broker with the demo's
// access rules, a player who writes another name into a chat line or a
// score record is shown under their own name, the one the broker let
// them write under; someone with no login writes nothing at all.
func TestNamesAreTheBrokersNotThePayloads(t *testing.T) {
	rules := make([]broker.Rule, 0, len(AccessRules()))
	for _, r := range AccessRules() {
		rules = append(rules, broker.Rule{Filter: r.Filter, Read: r.Read, Write: r.Write})
	}
	users := map[string]string{"ann": "ann-password-0123", "eve": "eve-password-0123"}
	b := mqtttest.StartBroker(t, &broker.Options{Auth: &broker.Auth{Anonymous: true, Users: users, Rules: rules}})
	creds := func(id string) (string, string, error) { return id, users[id], nil }
	player := func(name string) *Game {
		g, err := New(Config{Broker: b.URL(), Name: name, Room: "lobby", AutoJoin: true, Seed: 1, Credentials: creds})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return g
	}
	ann, eve := player("ann"), player("eve")
	tickUntil(t, "ann and eve in the room, ann's board loaded", func() bool {
		return sees(ann, "eve", true) && sees(eve, "ann", true) && ann.ScoresLoaded()
	}, ann, eve)

	// eve forges with her own login: another name in her payloads.
	topics := TopicsOf("lobby")
	forge := func(topic string, v any, retain bool) {
		payload, _ := json.Marshal(v)
		if _, err := eve.Client().Publish(topic, payload, mqttgame.AtLeastOnce, retain); err != nil {
			t.Fatal(err)
		}
	}
	forge(topics.Chat+"/eve", ChatMessage{ID: "Bob", Name: "Bob", Text: "I am Bob", Time: time.Now().UnixMilli()}, false)
	forge(topics.Scores+"/eve", map[string]any{"name": "Bot", "score": 999999, "date": time.Now()}, true)
	// A spectator, logged in as no one, tries the same.
	spy, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}})
	defer spy.Close()
	spy.Connect()
	spyChat, _ := spy.PublishString(topics.Chat+"/Bob", `{"text":"spectator as Bob"}`, mqttgame.AtLeastOnce, false)
	spyScore, _ := spy.PublishString(topics.Scores+"/Bot", `{"name":"Bot","score":999999}`, mqttgame.AtLeastOnce, true)

	refused := map[mqttgame.PublishID]bool{}
	tickUntil(t, "eve's forgeries shown under her name, the spectator's refused", func() bool {
		spy.Update()
		for _, e := range spy.AppendEvents(nil) {
			if e.Kind == mqttgame.EventPublishFailed && (e.ID == spyChat || e.ID == spyScore) {
				refused[e.ID] = true
			}
		}
		said := slices.ContainsFunc(ann.Chat().Lines, func(l ChatLine) bool { return l.Text == "I am Bob" && l.Name == "eve" })
		top := ann.AppendTop(nil)
		return said && len(top) == 1 && top[0].Name == "eve" && top[0].Score == 999999 && len(refused) == 2
	}, ann, eve)
	for _, l := range ann.Chat().Lines {
		if l.Name == "Bob" || l.Text == "spectator as Bob" {
			t.Errorf("ann shows a forged line: %+v", l)
		}
	}
}

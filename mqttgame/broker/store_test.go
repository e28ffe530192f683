package broker_test

import (
	"strings"
	"testing"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestRetainedSurviveRestart: retained messages under Persist come back
// after a restart on the same data folder; the others and the cleared
// ones do not.
func TestRetainedSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := &broker.Options{DataDir: dir, Persist: []string{"game/+/scores/#"}}
	b, err := broker.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, b.URL(), nil)
	c.Connect()
	var ids []mqttgame.PublishID
	for _, m := range [][2]string{
		{"game/r1/scores/ann", "12"},
		{"game/r1/scores/bob", "7"},
		{"game/r1/presence/ann", "online"},
	} {
		id, err := c.PublishString(m[0], m[1], mqttgame.AtLeastOnce, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	id, _ := c.ClearRetained("game/r1/scores/bob")
	ids = append(ids, id)
	delivered := map[mqttgame.PublishID]bool{}
	tickUntil(t, "retained publishes acknowledged", func() bool {
		for _, e := range c.AppendEvents(nil) {
			if e.Kind == mqttgame.EventDelivered {
				delivered[e.ID] = true
			}
		}
		return len(delivered) == len(ids)
	}, c)
	c.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = broker.Start(opts)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer b.Close()
	r := newClient(t, b.URL(), nil)
	r.Connect()
	r.Subscribe("game/#", mqttgame.AtLeastOnce)
	r.Subscribe("sync/r", mqttgame.AtLeastOnce)
	got := map[string]string{}
	keep := func() {
		for _, m := range r.AppendMessages(nil, "game/#") {
			got[m.Topic] = m.Text()
		}
	}
	tickUntil(t, "subscriptions", func() bool {
		keep()
		return r.IsSubscribed("game/#") && r.IsSubscribed("sync/r")
	}, r)
	// The marker comes back after the retained messages the subscription
	// to game/# brought, so by then every one of them is visible.
	r.PublishString("sync/r", "done", mqttgame.AtLeastOnce, false)
	tickUntil(t, "the marker", func() bool {
		keep()
		return r.OnMessage("sync/r")
	}, r)
	if got["game/r1/scores/ann"] != "12" {
		t.Errorf("after restart, scores/ann = %q, want 12", got["game/r1/scores/ann"])
	}
	if v, ok := got["game/r1/scores/bob"]; ok {
		t.Errorf("cleared retained message came back: %q", v)
	}
	if v, ok := got["game/r1/presence/ann"]; ok {
		t.Errorf("retained message outside Persist came back: %q", v)
	}
}

// TestDataDirInUse: a second broker on a folder another one uses fails
// to start, saying why, and the first keeps working.
func TestDataDirInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := broker.Start(&broker.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := broker.Start(&broker.Options{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second broker on one data folder: err = %v", err)
	}
	c := newClient(t, b.URL(), nil)
	c.Connect()
	tickUntil(t, "connected to the first broker", c.IsConnected, c)
}

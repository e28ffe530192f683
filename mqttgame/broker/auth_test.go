package broker_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// gameAuth is the policy of a hosted game: players write only their own
// presence and score, everyone reads everything, spectators connect
// without a user name.
var gameAuth = &broker.Auth{
	Users:     map[string]string{"ann": "ann-secret", "bob": "bob-secret"},
	Anonymous: true,
	Rules: []broker.Rule{
		{Filter: "game/+/presence/%u", Write: true},
		{Filter: "game/+/scores/%u", Write: true},
		{Filter: "game/#", Read: true},
	},
}

func user(name, password string) func(*mqttgame.Options) {
	return func(o *mqttgame.Options) {
		o.Username, o.Password = name, password
		o.ReconnectDelay = time.Hour
	}
}

// outcome publishes and ticks until the broker answered.
func outcome(t *testing.T, c *mqttgame.Client, topic string) error {
	t.Helper()
	id, err := c.PublishString(topic, "x", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var result error
	done := false
	tickUntil(t, "publish outcome", func() bool {
		for _, e := range c.AppendEvents(nil) {
			switch {
			case e.ID == id && e.Kind == mqttgame.EventDelivered:
				done = true
			case e.ID == id && e.Kind == mqttgame.EventPublishFailed:
				done, result = true, e.Err
			}
		}
		return done
	}, c)
	return result
}

// TestAuthSpoofingRefused: a player can publish its own presence and
// score, not another player's; the refusal carries "not authorized".
func TestAuthSpoofingRefused(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(&broker.Options{Auth: gameAuth})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ann := newClient(t, b.URL(), user("ann", "ann-secret"))
	ann.Connect()
	tickUntil(t, "ann connected", ann.IsConnected, ann)

	if err := outcome(t, ann, "game/lobby/presence/ann"); err != nil {
		t.Fatalf("own presence refused: %v", err)
	}
	if err := outcome(t, ann, "game/lobby/scores/ann"); err != nil {
		t.Fatalf("own score refused: %v", err)
	}
	for _, forged := range []string{"game/lobby/presence/bob", "game/lobby/scores/bob", "game/lobby/scores/ann/extra", "elsewhere/x"} {
		err := outcome(t, ann, forged)
		var be *mqttgame.BrokerError
		if !errors.Is(err, mqttgame.ReasonNotAuthorized) || !errors.As(err, &be) || be.Topic != forged {
			t.Errorf("publish to %s: err = %v, want ReasonNotAuthorized naming the topic", forged, err)
		}
	}
	if !ann.IsConnected() {
		t.Fatal("refused publishes cost the connection")
	}
}

func TestAuthLogin(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(&broker.Options{Auth: gameAuth})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testCases := []struct {
		name     string
		edit     func(*mqttgame.Options)
		accepted bool
	}{
		{"right password", user("bob", "bob-secret"), true},
		{"wrong password", user("bob", "ann-secret"), false},
		{"unknown user", user("eve", "anything"), false},
		{"anonymous spectator", user("", ""), true},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, b.URL(), tc.edit)
			c.Connect()
			tickUntil(t, "an answer", func() bool { return c.IsConnected() || c.ConnectFailed() }, c)
			if c.IsConnected() != tc.accepted {
				t.Fatalf("connected = %v, want %v (err %v)", c.IsConnected(), tc.accepted, c.Err())
			}
			if !tc.accepted && !errors.Is(c.Err(), mqttgame.ReasonBadUsernameOrPassword) {
				t.Fatalf("Err() = %v, want ReasonBadUsernameOrPassword", c.Err())
			}
		})
	}

	// A spectator reads, but cannot write, even to a presence topic.
	spectator := newClient(t, b.URL(), nil)
	spectator.Connect()
	spectator.Subscribe("game/#", 1)
	tickUntil(t, "spectator subscribed", func() bool { return spectator.IsSubscribed("game/#") }, spectator)
	if err := outcome(t, spectator, "game/lobby/presence/spectator"); !errors.Is(err, mqttgame.ReasonNotAuthorized) {
		t.Fatalf("anonymous publish: err = %v, want ReasonNotAuthorized", err)
	}
	spectator.Subscribe("private/#", 1)
	tickUntil(t, "refused subscription", func() bool {
		for _, e := range spectator.AppendEvents(nil) {
			if e.Kind == mqttgame.EventSubscribeFailed && errors.Is(e.Err, mqttgame.ReasonNotAuthorized) {
				return true
			}
		}
		return false
	}, spectator)

	// Users added while the broker runs can log in.
	b.AddUser("carol", "carol-secret")
	carol := newClient(t, b.URL(), user("carol", "carol-secret"))
	carol.Connect()
	tickUntil(t, "carol connected", carol.IsConnected, carol)
}

//go:build !js

package mqttgame_test

import (
	"errors"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestBrokerAssignsClientID: with an empty client identifier the broker
// assigns one, ClientID reports it, and a reconnection sends it, so the
// session the broker kept resumes.
func TestBrokerAssignsClientID(t *testing.T) {
	t.Parallel()
	b, srv := mqtttest.StartMochi(t, nil)
	proxy := newProxy(t, b.Addr().String())
	c := newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
		o.BrokerAssignsClientID = true
		o.SessionExpiry = time.Minute
	})
	if id := c.ClientID(); id != "" {
		t.Fatalf("ClientID() = %q before connecting, want \"\"", id)
	}
	connect(t, c)
	id := c.ClientID()
	if id == "" {
		t.Fatal("ClientID() is empty after connecting: no identifier assigned")
	}
	if srv.Clients.Len() != 1 {
		t.Fatalf("broker has %d clients", srv.Clients.Len())
	}
	if _, ok := srv.Clients.Get(id); !ok {
		t.Fatalf("broker knows no client %q", id)
	}
	proxy.Reset()
	tickUntil(t, "reconnection", c.JustConnected, c)
	var resumed bool
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventConnected {
			resumed = e.SessionPresent
		}
	}
	if !resumed {
		t.Fatal("the reconnection did not resume the session: the assigned identifier was not sent")
	}
	if got := c.ClientID(); got != id {
		t.Fatalf("ClientID() = %q after reconnecting, want %q", got, id)
	}
}

// TestBrokerAssignsClientIDConflict: a client ID and BrokerAssignsClientID
// together are refused.
func TestBrokerAssignsClientIDConflict(t *testing.T) {
	t.Parallel()
	_, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost/mqtt"}, ClientID: "me", BrokerAssignsClientID: true})
	if !errors.Is(err, mqttgame.ErrBadOption) {
		t.Fatalf("New = %v, want ErrBadOption", err)
	}
}

//go:build !js

package mqttgame_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// TestWait: Wait returns when a connection comes up and when a message
// arrives, each then shown by the next Update, and returns the context's
// error when nothing arrives.
func TestWait(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	wait := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := c.Wait(ctx); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		update(c)
	}

	// Nothing has happened: Wait gives up with the context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := c.Wait(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait on an idle client = %v, want context.DeadlineExceeded", err)
	}

	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	for !c.IsConnected() {
		wait("the connection")
	}
	if err := c.Subscribe("wait/t", mqttgame.AtLeastOnce); err != nil {
		t.Fatal(err)
	}
	for !c.IsSubscribed("wait/t") {
		wait("the subscription")
	}
	if _, err := c.PublishString("wait/t", "hello", mqttgame.AtLeastOnce, false); err != nil {
		t.Fatal(err)
	}
	for !c.OnMessage("wait/t") {
		wait("the message")
	}
	if got := c.LastMessage("wait/t"); got != "hello" {
		t.Errorf("LastMessage = %q, want hello", got)
	}

	// Whatever is left (the publish's delivery) is taken; then nothing
	// new arrives, and the next tick shows no message.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := c.Wait(ctx)
		cancel()
		if err != nil {
			break
		}
		update(c)
	}
	update(c)
	if c.OnMessage("wait/t") {
		t.Error("the message was shown on two ticks")
	}
}

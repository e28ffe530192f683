package mochifix

import (
	"testing"
	"time"
)

// notWithin fails the test if ch delivers within d: what must not happen
// is given a moment to happen.
func notWithin(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatal(what)
	case <-time.After(d):
	}
}

// within fails the test unless ch delivers within d.
func within(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// TestRouteGateTakeoverWaitsForRouting: a takeover waits for the message
// routing, and a message that comes meanwhile waits for the takeover.
func TestRouteGateTakeoverWaitsForRouting(t *testing.T) {
	t.Parallel()
	var g RouteGate
	g.enter()
	shut := make(chan bool, 1)
	go func() { shut <- g.shutAndWait(time.Minute) }()

	// The gate shuts at once; the takeover goes on only when routing ends.
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		closed := g.shut != nil
		g.mu.Unlock()
		if closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gate did not shut")
		}
		time.Sleep(time.Millisecond)
	}
	entered := make(chan struct{})
	go func() {
		g.enter()
		close(entered)
	}()
	select {
	case <-shut:
		t.Fatal("the takeover went on while a message was routing")
	case <-entered:
		t.Fatal("a message routed while the gate was shut")
	case <-time.After(50 * time.Millisecond):
	}

	g.leave()
	select {
	case ok := <-shut:
		if !ok {
			t.Fatal("shutAndWait reported a timeout")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the takeover did not go on once routing ended")
	}
	notWithin(t, entered, 50*time.Millisecond, "a message routed before the takeover opened the gate")
	g.open()
	within(t, entered, 10*time.Second, "the waiting message routes once the gate opens")
	g.leave()
}

// TestRouteGateStuckMessage: a message that never finishes routing holds a
// takeover up for the wait given, no longer; it may leave later.
func TestRouteGateStuckMessage(t *testing.T) {
	t.Parallel()
	var g RouteGate
	g.enter()
	start := time.Now()
	if g.shutAndWait(20 * time.Millisecond) {
		t.Fatal("shutAndWait reported routing done while a message was still routing")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("waited %v, less than asked", waited)
	}
	g.open()

	// Others route and take over as usual; the stuck one leaves late.
	g.enter()
	g.leave()
	g.leave()
	if !g.shutAndWait(time.Minute) {
		t.Fatal("nothing is routing, yet shutAndWait timed out")
	}
	g.open()
	if g.routing != 0 || g.idle != nil || g.shut != nil {
		t.Fatalf("gate left as routing=%d idle=%v shut=%v", g.routing, g.idle != nil, g.shut != nil)
	}
}

// TestRouteGateTakeoversInTurn: a second takeover waits until the first
// opens the gate.
func TestRouteGateTakeoversInTurn(t *testing.T) {
	t.Parallel()
	var g RouteGate
	if !g.shutAndWait(time.Minute) {
		t.Fatal("shutAndWait timed out on an idle gate")
	}
	second := make(chan struct{})
	go func() {
		g.shutAndWait(time.Minute)
		close(second)
	}()
	notWithin(t, second, 50*time.Millisecond, "a second takeover shut the gate while the first had it")
	g.open()
	within(t, second, 10*time.Second, "the second takeover once the first opened the gate")
	g.open()
}

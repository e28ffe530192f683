package broker

import (
	"sync"
	"time"
)

// takeoverWait bounds how long a session takeover waits for the messages
// routing when it starts. Tests change it; nothing else does.
var takeoverWait = time.Second

// routeGate keeps message routing and session takeovers apart. Any number
// of messages route at once; a takeover shuts the gate, so that messages
// wait to route until it is done, and waits for those already routing.
// Routing writes to subscribers' connections, and a connection nobody
// reads blocks that write: the takeover stops waiting after takeoverWait,
// so such a message holds up neither it nor the messages behind it for
// longer (what the stuck message still routes late, the session guard
// repairs).
type routeGate struct {
	mu      sync.Mutex
	routing int           // messages routing now
	idle    chan struct{} // closed when routing drops to 0 while a takeover waits
	shut    chan struct{} // non-nil while the gate is shut; closed as it opens
}

// waitOpen returns, with mu held, once the gate is open. Called with mu
// held.
func (g *routeGate) waitOpen() {
	for g.shut != nil {
		ch := g.shut
		g.mu.Unlock()
		<-ch
		g.mu.Lock()
	}
}

// enter starts routing a message, once the gate is open.
func (g *routeGate) enter() {
	g.mu.Lock()
	g.waitOpen()
	g.routing++
	g.mu.Unlock()
}

// leave ends routing a message.
func (g *routeGate) leave() {
	g.mu.Lock()
	g.routing--
	if g.routing == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// shutAndWait shuts the gate, once it is open, and waits up to wait for the
// messages routing to finish; it reports whether they did.
func (g *routeGate) shutAndWait(wait time.Duration) bool {
	g.mu.Lock()
	g.waitOpen()
	g.shut = make(chan struct{})
	if g.routing == 0 {
		g.mu.Unlock()
		return true
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-idle:
		return true
	case <-t.C:
		g.mu.Lock()
		if g.idle == idle {
			g.idle = nil
		}
		g.mu.Unlock()
		return false
	}
}

// open opens the gate again.
func (g *routeGate) open() {
	g.mu.Lock()
	if g.shut != nil {
		close(g.shut)
		g.shut = nil
	}
	g.mu.Unlock()
}

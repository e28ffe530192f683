package mochifix

// # Close races connections being established
//
// What is wrong: mochi's Server.Close closes its listeners while their
// Serve goroutines may still be handing a new connection to mochi, and
// stops clients while one may still be established: the race detector
// reports data races between Listeners.Close and Listeners.Serve, and
// between Close and EstablishConnection.
//
// Upstream: mochi-mqtt/server#541 ("Data race between Server.Close() and
// connection establishment under -race"), open; the fixes for the related
// races #488 and #424 are in mochi-mqtt/server#540.
//
// Repair: the broker's listeners follow, with a Tracker, every connection
// they hand to mochi, so that a shutdown stops accepting, ends them all
// and waits for their handlers before mochi's own Close runs.

import (
	"log/slog"
	"net"
	"sync"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// Tracker follows the connections a listener hands to mochi.
type Tracker struct {
	mu        sync.Mutex
	establish listeners.EstablishFn
	stopped   bool
	open      map[net.Conn]struct{}
	handlers  sync.WaitGroup
	ready     chan struct{} // closed once mochi handed over establish
	stop      chan struct{} // closed by StopAccepting
	stopOnce  sync.Once
	log       *slog.Logger
	ended     func(net.Conn) // called once mochi is done with a connection; may be nil
}

// NewTracker returns a tracker that calls ended, if not nil, each time
// mochi is done with a connection.
func NewTracker(ended func(net.Conn)) *Tracker {
	return &Tracker{open: make(map[net.Conn]struct{}), ready: make(chan struct{}), stop: make(chan struct{}), ended: ended, log: slog.New(slog.DiscardHandler)}
}

// SetLog sets where the ends of connections are logged; a listener calls
// it from its Init.
func (t *Tracker) SetLog(log *slog.Logger) { t.log = log }

// Serve records how to hand connections to mochi; a listener calls it
// from its Serve.
func (t *Tracker) Serve(establish listeners.EstablishFn) {
	t.mu.Lock()
	t.establish = establish
	t.mu.Unlock()
	close(t.ready)
}

// Ready is closed once the listener serves.
func (t *Tracker) Ready() <-chan struct{} { return t.ready }

// Stopped is closed once the listener stops accepting.
func (t *Tracker) Stopped() <-chan struct{} { return t.stop }

// Enter starts a handler, unless the listener stopped; it returns how to
// hand a connection to mochi. A handler that entered calls Run, or Leave
// if it has no connection to hand over after all.
func (t *Tracker) Enter() (listeners.EstablishFn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.establish == nil {
		return nil, false
	}
	t.handlers.Add(1)
	return t.establish, true
}

// Leave ends a handler that entered without a connection.
func (t *Tracker) Leave() { t.handlers.Done() }

// Run hands c to mochi and returns when mochi is done with it; the
// handler must have entered.
func (t *Tracker) Run(id string, c net.Conn, establish listeners.EstablishFn) {
	defer t.handlers.Done()
	t.mu.Lock()
	if t.stopped {
		t.mu.Unlock()
		c.Close()
		return
	}
	t.open[c] = struct{}{}
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.open, c)
		t.mu.Unlock()
		c.Close()
	}()
	err := establish(id, c)
	if t.ended != nil {
		t.ended(c)
	}
	if err != nil {
		t.log.Debug("broker: connection ended", "listener", id, "remote", c.RemoteAddr(), "err", err)
	}
}

// Accept serves a stream listener: it records establish, then hands each
// connection ln accepts to mochi as id, through wrap if not nil, until ln
// is closed.
func (t *Tracker) Accept(ln net.Listener, id string, wrap func(net.Conn) net.Conn, establish listeners.EstablishFn) {
	t.Serve(establish)
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		establish, ok := t.Enter()
		if !ok {
			c.Close()
			continue
		}
		if wrap != nil {
			c = wrap(c)
		}
		go t.Run(id, c, establish)
	}
}

// StopAccepting has every handler that enters from now on refuse its
// connection.
func (t *Tracker) StopAccepting() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.stopOnce.Do(func() { close(t.stop) })
}

// CloseAll closes the connections still open (those the session guard
// did not drain, such as one still handshaking) and waits until every
// handler has returned.
func (t *Tracker) CloseAll() {
	t.mu.Lock()
	for c := range t.open {
		if a, ok := c.(interface{ CloseNow() error }); ok {
			a.CloseNow() // no closing handshake with a leftover
		} else {
			c.Close()
		}
	}
	t.mu.Unlock()
	t.handlers.Wait()
}

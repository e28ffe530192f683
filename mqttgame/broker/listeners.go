package broker

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// tracker follows the connections a listener hands to mochi, so that a
// shutdown can end them all and wait for their handlers before mochi's
// own Close runs: mochi's Close racing a connection being established is
// a data race in mochi.
type tracker struct {
	mu        sync.Mutex
	establish listeners.EstablishFn
	stopped   bool
	open      map[net.Conn]struct{}
	handlers  sync.WaitGroup
	ready     chan struct{} // closed once mochi handed over establish
	stop      chan struct{} // closed by stopAccepting
	stopOnce  sync.Once
	log       *slog.Logger
	ended     func(net.Conn) // called once mochi is done with a connection; may be nil
}

func newTracker(ended func(net.Conn)) tracker {
	return tracker{open: make(map[net.Conn]struct{}), ready: make(chan struct{}), stop: make(chan struct{}), ended: ended}
}

// serve records how to hand connections to mochi.
func (t *tracker) serve(establish listeners.EstablishFn) {
	t.mu.Lock()
	t.establish = establish
	t.mu.Unlock()
	close(t.ready)
}

// enter starts a handler, unless the listener stopped; it returns how to
// hand a connection to mochi.
func (t *tracker) enter() (listeners.EstablishFn, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped || t.establish == nil {
		return nil, false
	}
	t.handlers.Add(1)
	return t.establish, true
}

// run hands c to mochi and returns when mochi is done with it; the
// handler must have entered.
func (t *tracker) run(id string, c net.Conn, establish listeners.EstablishFn) {
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
	if err != nil && t.log != nil {
		t.log.Debug("broker: connection ended", "listener", id, "remote", c.RemoteAddr(), "err", err)
	}
}

func (t *tracker) stopAccepting() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.stopOnce.Do(func() { close(t.stop) })
}

// closeAll closes the connections still open (those the session guard
// did not drain, such as one still handshaking) and waits until every
// handler has returned.
func (t *tracker) closeAll() {
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

// wsListener is the broker's WebSocket listener: an http.Handler that
// accepts WebSocket connections (subprotocol "mqtt") and hands them to
// mochi as net.Conns.
type wsListener struct {
	id, addr string
	tracker
}

func newWSListener(addr string, ended func(net.Conn)) *wsListener {
	return &wsListener{id: "ws", addr: addr, tracker: newTracker(ended)}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Address() string  { return l.addr }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve records how to hand connections to mochi and returns at Close.
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.serve(establish)
	<-l.stop
}

// Close stops accepting and closes the connections mochi still has.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients(l.id)
}

func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	establish, ok := l.enter()
	if !ok {
		http.Error(w, "broker not running", http.StatusServiceUnavailable)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"mqtt"},
		// MQTT uses no cookies, so a page from any origin may connect:
		// a game hosted elsewhere, or opened from a file.
		InsecureSkipVerify: true,
	})
	if err != nil {
		l.handlers.Done()
		return
	}
	// Each of mochi's writes holds whole packets (one, or those it
	// gathered for the client) and goes out as one message: a packet is
	// never split across messages.
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	l.run(l.id, &forgivingConn{Conn: nc, abort: c.CloseNow}, establish)
}

// tcpListener is the broker's plain MQTT listener.
type tcpListener struct {
	ln net.Listener
	tracker
}

func newTCPListener(ln net.Listener, ended func(net.Conn)) *tcpListener {
	return &tcpListener{ln: ln, tracker: newTracker(ended)}
}

func (l *tcpListener) ID() string       { return "tcp" }
func (l *tcpListener) Address() string  { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string { return "tcp" }

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	return nil
}

// Serve accepts connections until the listener stops.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	l.serve(establish)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		establish, ok := l.enter()
		if !ok {
			c.Close()
			continue
		}
		go l.run("tcp", &forgivingConn{Conn: c}, establish)
	}
}

// Close stops accepting and closes the connections mochi still has.
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients("tcp")
}

// stopAccepting also closes the network listener; nil-safe.
func (l *tcpListener) stopAccepting() {
	if l == nil {
		return
	}
	l.tracker.stopAccepting()
	l.ln.Close()
}

// closeAll is tracker.closeAll, nil-safe.
func (l *tcpListener) closeAll() {
	if l != nil {
		l.tracker.closeAll()
	}
}

// forgivingConn reports every write as done. mochi-mqtt gives up on a QoS
// 2 message when it cannot write the PUBREC (the connection was just
// reset), yet remembers the packet identifier as received, so the
// client's resend is refused and the message is lost. With writes that
// never fail, mochi routes the message; the failed connection still ends
// through its reads, and the client's resend completes the exchange.
type forgivingConn struct {
	net.Conn
	abort  func() error // closes at once; nil: Close
	failed atomic.Bool
}

func (c *forgivingConn) Write(p []byte) (int, error) {
	if c.failed.Load() {
		return len(p), nil
	}
	if _, err := c.Conn.Write(p); err != nil {
		c.failed.Store(true)
		_ = c.Conn.Close()
	}
	return len(p), nil
}

// Close closes the connection; a WebSocket that has already failed is
// dropped without waiting for a closing handshake.
func (c *forgivingConn) Close() error {
	if c.abort != nil && c.failed.Load() {
		return c.abort()
	}
	return c.Conn.Close()
}

// CloseNow drops the connection without a closing handshake.
func (c *forgivingConn) CloseNow() error {
	if c.abort != nil {
		return c.abort()
	}
	return c.Conn.Close()
}

package broker

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/coder/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/mqttgame/mqttgame/mqttgame/broker/internal/mochifix"
)

// wsListener is the broker's WebSocket listener: an http.Handler that
// accepts WebSocket connections (subprotocol "mqtt") and hands them to
// mochi as net.Conns.
type wsListener struct {
	id, addr string
	*mochifix.Tracker
}

func newWSListener(addr string, ended func(net.Conn)) *wsListener {
	return &wsListener{id: "ws", addr: addr, Tracker: mochifix.NewTracker(ended)}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Address() string  { return l.addr }
func (l *wsListener) Protocol() string { return "ws" }

func (l *wsListener) Init(log *slog.Logger) error {
	l.SetLog(log)
	return nil
}

// Serve records how to hand connections to mochi and returns at Close.
func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.Tracker.Serve(establish)
	<-l.Stopped()
}

// Close stops accepting and closes the connections mochi still has.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.StopAccepting()
	closeClients(l.id)
}

func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	establish, ok := l.Enter()
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
		l.Leave()
		return
	}
	// Each of mochi's writes holds whole packets (one, or those it
	// gathered for the client) and goes out as one message: a packet is
	// never split across messages.
	nc := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	l.Run(l.id, mochifix.NewForgivingConn(nc, c.CloseNow), establish)
}

// tcpListener is the broker's plain MQTT listener.
type tcpListener struct {
	ln net.Listener
	*mochifix.Tracker
}

func newTCPListener(ln net.Listener, ended func(net.Conn)) *tcpListener {
	return &tcpListener{ln: ln, Tracker: mochifix.NewTracker(ended)}
}

func (l *tcpListener) ID() string       { return "tcp" }
func (l *tcpListener) Address() string  { return l.ln.Addr().String() }
func (l *tcpListener) Protocol() string { return "tcp" }

func (l *tcpListener) Init(log *slog.Logger) error {
	l.SetLog(log)
	return nil
}

// Serve accepts connections until the listener stops.
func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	l.Accept(l.ln, "tcp", func(c net.Conn) net.Conn { return mochifix.NewForgivingConn(c, nil) }, establish)
}

// Close stops accepting and closes the connections mochi still has.
func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.StopAccepting()
	closeClients("tcp")
}

// stopAccepting also closes the network listener; nil-safe.
func (l *tcpListener) stopAccepting() {
	if l == nil {
		return
	}
	l.StopAccepting()
	l.ln.Close()
}

// closeAll is tracker.closeAll, nil-safe.
func (l *tcpListener) closeAll() {
	if l != nil {
		l.CloseAll()
	}
}

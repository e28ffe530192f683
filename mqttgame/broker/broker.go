// Package broker runs an MQTT v5 broker inside the game's process, so a
// game, a LAN party or a test needs no broker installed. It is
// mochi-mqtt (github.com/mochi-mqtt/server) with a WebSocket listener on
// an HTTP server of its own, which can serve other paths too (a browser
// build of the game), and optionally a plain TCP listener for
// command-line tools such as mosquitto_sub.
//
// Retained messages, wills (with delay), QoS 2 and sessions work as with
// any MQTT v5 broker. One limit of mochi-mqtt shows through: the QoS 1 and
// 2 messages queued for a client that was away are sent, when it returns,
// in the order of the second they arrived in; two from the same second may
// come in either order. Live messages keep their order.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Options configures a Broker. The zero value hosts a broker on a free
// port of this machine only.
type Options struct {
	// Addr is where the HTTP server (MQTT over WebSocket, and Handler)
	// listens. Defaults to "127.0.0.1:0": a free port, this machine only.
	// Use ":8080" to let other machines (a LAN party) in.
	Addr string

	// Path is where MQTT over WebSocket is served. Defaults to "/mqtt".
	Path string

	// TCPAddr, if not empty, adds a plain MQTT listener there
	// ("127.0.0.1:1883", or ":0" for a free port). Defaults to "": none.
	TCPAddr string

	// TLSConfig, if not nil, makes the broker speak TLS on both listeners:
	// URL returns wss:// and TCPURL mqtts://. It needs a certificate.
	// Defaults to nil: plain ws:// and mqtt://, fine on this machine or a
	// trusted LAN.
	TLSConfig *tls.Config

	// Handler serves every other path of the HTTP server, for instance
	// the browser build of the game. Defaults to nil: 404 Not Found.
	Handler http.Handler

	// Capabilities overrides the broker's limits and features (maximum
	// packet size, receive maximum, maximum QoS, …). Defaults to nil:
	// mochi-mqtt's defaults.
	Capabilities *mqtt.Capabilities

	// DataDir, if not empty, keeps sessions (subscriptions and queued QoS 1
	// and 2 messages) and retained messages in DataDir/broker.db, so they
	// survive a restart of the broker: high scores, presence records,
	// messages for players who were away. The folder is created if needed.
	// Defaults to "": everything is in memory.
	DataDir string

	// Auth, if not nil, says who may connect and where they may publish
	// and subscribe: user names and passwords, and mosquitto-style ACL
	// patterns. Defaults to nil: anyone may connect and do anything.
	Auth *Auth

	// Hooks are added to the broker before it starts, in order, for
	// observation or other policies. If neither Auth nor a hook
	// authenticates clients, every client is allowed.
	Hooks []mqtt.Hook

	// Logger receives the broker's log lines. Defaults to discarding them.
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Path == "" {
		o.Path = "/mqtt"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Broker is a running broker. Close stops it.
type Broker struct {
	srv    *mqtt.Server
	guard  *sessionGuard
	auth   *authHook
	ln     net.Listener
	http   *http.Server
	ws     *wsListener
	url    string
	tcpURL string
	path   string
	done   chan struct{}
	close  sync.Once
}

// Start starts a broker and returns once it accepts connections.
// opts may be nil.
func Start(opts *Options) (*Broker, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	o.ensureDefaults()

	srv := mqtt.New(&mqtt.Options{
		Capabilities: o.Capabilities,
		Logger:       o.Logger,
		// The default sends $SYS topics every second; a game has no use for
		// them that often.
		SysTopicResendInterval: 10,
	})
	caps := srv.Options.Capabilities
	if err := srv.AddHook(&announceLimits{caps: caps}, nil); err != nil {
		return nil, err
	}
	if err := srv.AddHook(new(noSendQuota), nil); err != nil {
		return nil, err
	}
	var store *boltStore
	if o.DataDir != "" {
		if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
			return nil, fmt.Errorf("broker: data folder: %w", err)
		}
		s, config := newBoltStore(o.DataDir)
		if err := srv.AddHook(s, config); err != nil {
			return nil, fmt.Errorf("broker: cannot open %s: %w", config.Path, err)
		}
		store = &s
	}
	guard := newSessionGuard(srv, store)
	if err := srv.AddHook(guard, nil); err != nil {
		return nil, err
	}
	var authHook *authHook
	authenticates := false
	if o.Auth != nil {
		authHook = newAuthHook(o.Auth)
		if err := srv.AddHook(authHook, nil); err != nil {
			return nil, err
		}
		authenticates = true
	}
	for _, h := range o.Hooks {
		if h.Provides(mqtt.OnConnectAuthenticate) {
			authenticates = true
		}
		if err := srv.AddHook(h, nil); err != nil {
			return nil, fmt.Errorf("broker: hook %s: %w", h.ID(), err)
		}
	}
	if !authenticates {
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			return nil, err
		}
	}

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: cannot listen on %s: %w", o.Addr, err)
	}
	wsScheme, tcpScheme := "ws://", "mqtt://"
	if o.TLSConfig != nil {
		ln = tls.NewListener(ln, o.TLSConfig)
		wsScheme, tcpScheme = "wss://", "mqtts://"
	}
	b := &Broker{
		srv:   srv,
		guard: guard,
		auth:  authHook,
		ln:    ln,
		ws:    &wsListener{id: "ws", addr: ln.Addr().String(), stop: make(chan struct{})},
		url:   wsScheme + ln.Addr().String() + o.Path,
		path:  o.Path,
		done:  make(chan struct{}),
	}
	if err := srv.AddListener(b.ws); err != nil {
		ln.Close()
		return nil, err
	}
	if o.TCPAddr != "" {
		tln, err := net.Listen("tcp", o.TCPAddr)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("broker: cannot listen on %s: %w", o.TCPAddr, err)
		}
		if o.TLSConfig != nil {
			tln = tls.NewListener(tln, o.TLSConfig)
		}
		if err := srv.AddListener(listeners.NewNet("tcp", forgivingListener{tln})); err != nil {
			ln.Close()
			tln.Close()
			return nil, err
		}
		b.tcpURL = tcpScheme + tln.Addr().String()
	}

	mux := http.NewServeMux()
	mux.Handle(o.Path, b.ws)
	if o.Handler != nil {
		mux.Handle("/", o.Handler)
	}
	b.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}

	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, err
	}
	go func() {
		defer close(b.done)
		_ = b.http.Serve(ln)
	}()
	return b, nil
}

// URL returns the WebSocket URL of the broker, as
// "ws://127.0.0.1:port/mqtt". With Addr ":port" the host is the
// unspecified address; other machines use this machine's name or address.
func (b *Broker) URL() string { return b.url }

// TCPURL returns the plain MQTT URL ("mqtt://127.0.0.1:port"), or "" when
// Options.TCPAddr was empty.
func (b *Broker) TCPURL() string { return b.tcpURL }

// Addr returns the address the HTTP server listens on.
func (b *Broker) Addr() net.Addr { return b.ln.Addr() }

// Server returns the mochi-mqtt server, for its counters (Info) and
// inline publishing. Changing its configuration once started is unsafe.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// Close tells every client the server is shutting down, ends their
// connections once the packets they sent are handled, and stops the
// broker. Their wills are published, as for any connection the client did
// not end.
func (b *Broker) Close() error {
	var err error
	b.close.Do(func() {
		b.ws.stopAccepting()
		b.guard.drainAll()
		err = b.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if herr := b.http.Shutdown(ctx); herr != nil && !errors.Is(herr, http.ErrServerClosed) {
			err = errors.Join(err, herr)
		}
		<-b.done
		b.ws.wait()
	})
	return err
}

// wsListener is the broker's WebSocket listener: an http.Handler that
// accepts WebSocket connections (subprotocol "mqtt") and hands them to
// mochi as net.Conns.
type wsListener struct {
	id, addr  string
	mu        sync.Mutex
	establish listeners.EstablishFn
	stop      chan struct{}
	stopOnce  sync.Once
	conns     sync.WaitGroup
	log       *slog.Logger
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
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	<-l.stop
}

// Close stops accepting and closes the connections mochi still has.
func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.stopAccepting()
	closeClients(l.id)
}

func (l *wsListener) wait() { l.conns.Wait() }

// stopAccepting refuses new WebSocket connections from now on.
func (l *wsListener) stopAccepting() {
	l.stopOnce.Do(func() { close(l.stop) })
}

func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	establish := l.establish
	l.mu.Unlock()
	select {
	case <-l.stop:
		establish = nil
	default:
	}
	if establish == nil {
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
		return
	}
	l.conns.Add(1)
	defer l.conns.Done()
	conn := &forgivingConn{Conn: websocket.NetConn(context.Background(), c, websocket.MessageBinary)}
	defer conn.Close()
	if err := establish(l.id, conn); err != nil && l.log != nil {
		l.log.Debug("broker: connection ended", "remote", r.RemoteAddr, "err", err)
	}
}

// announceLimits adds to CONNACK the limits MQTT v5 lets a broker announce
// and mochi-mqtt leaves out: maximum packet size, topic alias maximum, and
// which features are missing. A client that knows them refuses what the
// broker would drop the connection for, instead of learning it the hard way.
type announceLimits struct {
	mqtt.HookBase
	caps *mqtt.Capabilities
}

func (h *announceLimits) ID() string { return "announce-limits" }

func (h *announceLimits) Provides(b byte) bool { return b == mqtt.OnPacketEncode }

func (h *announceLimits) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Connack || pk.ReasonCode >= 0x80 || cl.Properties.ProtocolVersion < 5 {
		return pk
	}
	c := h.caps
	p := &pk.Properties
	if c.MaximumPacketSize > 0 {
		p.MaximumPacketSize = c.MaximumPacketSize
	}
	p.TopicAliasMaximum = c.TopicAliasMaximum
	if c.RetainAvailable == 0 {
		p.RetainAvailable, p.RetainAvailableFlag = 0, true
	}
	if c.WildcardSubAvailable == 0 {
		p.WildcardSubAvailable, p.WildcardSubAvailableFlag = 0, true
	}
	if c.SubIDAvailable == 0 {
		p.SubIDAvailable, p.SubIDAvailableFlag = 0, true
	}
	if c.SharedSubAvailable == 0 {
		p.SharedSubAvailable, p.SharedSubAvailableFlag = 0, true
	}
	return pk
}

// forgivingConn reports every write as done. mochi-mqtt gives up on a QoS
// 2 message when it cannot write the PUBREC (the connection was just
// reset), yet remembers the packet identifier as received, so the
// client's resend is refused and the message is lost. With writes that
// never fail, mochi routes the message; the failed connection still ends
// through its reads, and the client's resend completes the exchange.
type forgivingConn struct {
	net.Conn
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

// forgivingListener accepts forgivingConns.
type forgivingListener struct{ net.Listener }

func (l forgivingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &forgivingConn{Conn: c}, nil
}

// noSendQuota turns off mochi-mqtt's pacing of QoS 1 and 2 messages to a
// client's receive maximum. In mochi v2.7.9 that pacing takes a read lock
// on the client's in-flight store twice in a row after every packet the
// client sends; a publisher adding a message for that client between the
// two waits for a write lock, and the broker deadlocks under steady QoS 1
// or 2 traffic. Without it, mochi sends messages as they come, and the
// client's own flow control applies (see the mqttgame package).
type noSendQuota struct{ mqtt.HookBase }

func (h *noSendQuota) ID() string { return "no-send-quota" }

func (h *noSendQuota) Provides(b byte) bool { return b == mqtt.OnSessionEstablished }

// OnSessionEstablished runs after mochi set the quota and before it reads
// the client's first packet.
func (h *noSendQuota) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	cl.State.Inflight.ResetSendQuota(0)
}

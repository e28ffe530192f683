// Package broker runs an MQTT v5 broker inside the game's process, so a
// game, a LAN party or a test needs no broker installed. It is
// mochi-mqtt (github.com/mochi-mqtt/server) with a WebSocket listener on
// an HTTP server of its own, which can serve other paths too (a browser
// build of the game), and optionally a plain TCP listener for
// command-line tools such as mosquitto_sub.
//
// Retained messages, wills (with delay), QoS 2 and sessions work as with
// any MQTT v5 broker. With Options.DataDir, retained messages (high
// scores) are kept on disk and survive a restart.
//
// Two limits of mochi-mqtt show through. The QoS 1 and 2 messages queued
// for a client that was away are sent, when it returns, in the order of
// the second they arrived in; two from the same second may come in either
// order (live messages keep their order). And a will with a delay is
// retained only if the client's session outlives the delay: give such a
// client a SessionExpiry longer than its Will.Delay.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/mqttgame/mqttgame/mqttgame/broker/internal/mochifix"
)

// Options configures a Broker. The zero value hosts a broker on a free
// port of this machine only.
type Options struct {
	// Addr is where the HTTP server (MQTT over WebSocket at /mqtt, and
	// Handler) listens. Defaults to "127.0.0.1:0": a free port, this machine only.
	// Use ":8080" to let other machines (a LAN party) in.
	Addr string

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

	// MaxPacketSize is the size, in bytes, of the largest packet a client
	// may send; a client that sends a larger one is disconnected. MQTT v5
	// clients are told it when they connect, and keep under it. Defaults
	// to 0: no limit but MQTT's own (256 MiB).
	MaxPacketSize uint32

	// ReceiveMaximum is how many QoS 1 and 2 messages a client may have
	// sent and not yet seen acknowledged; MQTT v5 clients are told it
	// when they connect. Defaults to 0: 1024.
	ReceiveMaximum uint16

	// Auth, if not nil, says who may connect and where they may publish
	// and subscribe: user names and passwords, and mosquitto-style ACL
	// patterns. Defaults to nil: anyone may connect and do anything.
	Auth *Auth

	// DataDir, if not empty, is a folder (created if missing) where the
	// broker keeps retained messages, so that they survive a restart: the
	// file broker.db, written through mochi-mqtt's bolt storage hook.
	// Sessions are not kept. One broker at a time may use a folder; a
	// second one fails to start. Not available in the browser. Defaults
	// to "": retained messages live in memory only.
	DataDir string

	// Persist lists the filters of the retained messages kept in DataDir
	// ("game/+/scores/#"); the others live in memory only, for state that
	// means nothing after a restart, such as who is online. Defaults to
	// nil: every retained message is kept.
	Persist []string

	// KeepSessions keeps sessions in DataDir too: the subscriptions, and
	// the QoS 1 and 2 messages in flight or queued, of clients with a
	// session expiry, so that a restart of the broker loses none of them.
	// Defaults to false: a game host rarely needs it, and each QoS 1 or 2
	// message then costs writes to disk.
	KeepSessions bool

	// Logger receives the broker's log lines. Defaults to discarding them.
	Logger *slog.Logger

	// Mochi is the escape hatch to mochi-mqtt
	// (github.com/mochi-mqtt/server), the broker underneath, for what
	// these options do not say. If set, it is called with the mochi-mqtt
	// server before the server starts, and returns hooks to add to it, in
	// order, which observe or change what the broker does. It may change
	// the server's Capabilities then, and keep the server to read its
	// counters (Info) or publish inline later; changing its configuration
	// once it serves is unsafe. If neither Auth nor one of the hooks
	// authenticates clients (provides OnConnectAuthenticate), every
	// client is allowed. It ties the caller to mochi-mqtt's API, which the
	// rest of this package does not: a game should need none of it.
	// Defaults to nil.
	Mochi func(srv *mqtt.Server) []mqtt.Hook

	// takeoverWait bounds how long a session takeover waits for the
	// messages routing when it starts (see mochifix.RouteGate). Tests set
	// it; a game has no reason to. Defaults to a second.
	takeoverWait time.Duration
}

// wsPath is where MQTT over WebSocket is served, as most brokers do.
const wsPath = "/mqtt"

func (o *Options) ensureDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.takeoverWait <= 0 {
		o.takeoverWait = time.Second
	}
}

// Broker is a running broker. Close stops it.
type Broker struct {
	srv    *mqtt.Server
	guard  *mochifix.SessionGuard
	auth   *authHook
	ln     net.Listener
	http   *http.Server
	ws     *wsListener
	tcp    *tcpListener // nil without Options.TCPAddr
	url    string
	tcpURL string
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

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: cannot listen on %s: %w", o.Addr, err)
	}
	var tln net.Listener
	if o.TCPAddr != "" {
		if tln, err = net.Listen("tcp", o.TCPAddr); err != nil {
			ln.Close()
			return nil, fmt.Errorf("broker: cannot listen on %s: %w", o.TCPAddr, err)
		}
	}
	// The data folder is opened once the ports are ours: a second copy
	// of a game that finds its port taken never touches the folder.
	var store *diskStore
	if o.DataDir != "" {
		if store, err = openStore(o.DataDir, o.Persist, o.KeepSessions); err != nil {
			ln.Close()
			if tln != nil {
				tln.Close()
			}
			return nil, err
		}
	}
	b, err := serve(&o, ln, tln, store)
	if err != nil {
		ln.Close()
		if tln != nil {
			tln.Close()
		}
		if store != nil {
			store.Stop()
		}
		return nil, err
	}
	return b, nil
}

// serve builds the broker on its listeners and store (nil without
// DataDir) and starts it.
func serve(o *Options, ln, tln net.Listener, store *diskStore) (*Broker, error) {
	caps := mqtt.NewDefaultServerCapabilities()
	if o.MaxPacketSize > 0 {
		caps.MaximumPacketSize = o.MaxPacketSize
	}
	if o.ReceiveMaximum > 0 {
		caps.ReceiveMaximum = o.ReceiveMaximum
	}
	srv := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       o.Logger,
		// The default sends $SYS topics every second; a game has no use for
		// them that often.
		SysTopicResendInterval: 10,
	})

	// The repairs of mochi's defects (package mochifix) come first, but
	// for the two that must see packets after every other hook.
	caps = srv.Options.Capabilities
	routes := mochifix.NewRouteGate(caps)
	var sessions mochifix.SessionStore
	if store != nil {
		sessions = store.Store
	}
	guard := mochifix.NewSessionGuard(srv, routes, o.takeoverWait, sessions)
	ends := mochifix.NewSessionEnd(srv) // after the guard, which ends the old connection first
	hooks := []mqtt.Hook{mochifix.NewAnnounceLimits(caps), new(mochifix.NoSendQuota), guard, ends}
	authenticates := false
	var authHook *authHook
	if o.Auth != nil {
		authHook = newAuthHook(o.Auth)
		hooks = append(hooks, authHook)
		authenticates = true
	}
	if o.Mochi != nil {
		for _, h := range o.Mochi(srv) {
			authenticates = authenticates || h.Provides(mqtt.OnConnectAuthenticate)
			hooks = append(hooks, h)
		}
	}
	if !authenticates {
		hooks = append(hooks, new(auth.AllowHook))
	}
	if store != nil {
		hooks = append(hooks, store)
	}
	for _, h := range hooks {
		if err := srv.AddHook(h, nil); err != nil {
			return nil, fmt.Errorf("broker: hook %s: %w", h.ID(), err)
		}
	}
	// Last, so that no hook after them can drop a packet they locked for.
	for _, h := range []mqtt.Hook{routes, mochifix.NewRetainLock(caps)} {
		if err := srv.AddHook(h, nil); err != nil {
			return nil, err
		}
	}

	wsScheme, tcpScheme := "ws://", "mqtt://"
	if o.TLSConfig != nil {
		ln = tls.NewListener(ln, o.TLSConfig)
		wsScheme, tcpScheme = "wss://", "mqtts://"
	}
	connEnded := func(c net.Conn) { guard.ConnEnded(c); ends.ConnEnded(c) }
	b := &Broker{
		srv:   srv,
		guard: guard,
		auth:  authHook,
		ln:    ln,
		ws:    newWSListener(ln.Addr().String(), connEnded),
		url:   wsScheme + ln.Addr().String() + wsPath,
		done:  make(chan struct{}),
	}
	if err := srv.AddListener(b.ws); err != nil {
		srv.Close()
		return nil, err
	}
	if tln != nil {
		if o.TLSConfig != nil {
			tln = tls.NewListener(tln, o.TLSConfig)
		}
		b.tcp = newTCPListener(tln, connEnded)
		if err := srv.AddListener(b.tcp); err != nil {
			srv.Close()
			return nil, err
		}
		b.tcpURL = tcpScheme + tln.Addr().String()
	}

	mux := http.NewServeMux()
	mux.Handle(wsPath, b.ws)
	if o.Handler != nil {
		mux.Handle("/", o.Handler)
	}
	b.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}

	if err := srv.Serve(); err != nil {
		srv.Close()
		return nil, err
	}
	// mochi starts its listeners on goroutines: be ready before returning.
	<-b.ws.Ready()
	if b.tcp != nil {
		<-b.tcp.Ready()
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

// Close tells every client the server is shutting down, ends their
// connections once the packets they sent are handled, and stops the
// broker. Their wills are published, as for any connection the client did
// not end.
func (b *Broker) Close() error {
	var err error
	b.close.Do(func() {
		// mochi's Close must not overlap a connection being established:
		// stop accepting, end what is open, wait for every handler.
		b.ws.StopAccepting()
		b.tcp.stopAccepting()
		b.guard.DrainAll()
		b.ws.CloseAll()
		b.tcp.closeAll()
		err = b.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if herr := b.http.Shutdown(ctx); herr != nil && !errors.Is(herr, http.ErrServerClosed) {
			err = errors.Join(err, herr)
		}
		<-b.done
	})
	return err
}

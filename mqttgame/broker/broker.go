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

	// Auth, if not nil, says who may connect and where they may publish
	// and subscribe: user names and passwords, and mosquitto-style ACL
	// patterns. Defaults to nil: anyone may connect and do anything.
	Auth *Auth

	// Hooks are added to the broker before it starts, in order, for
	// observation or other policies. If neither Auth nor a hook
	// authenticates clients, every client is allowed.
	Hooks []mqtt.Hook

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
	tcp    *tcpListener // nil without Options.TCPAddr
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
	guard := newSessionGuard(srv)
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
		ws:    newWSListener(ln.Addr().String(), guard.connEnded),
		url:   wsScheme + ln.Addr().String() + o.Path,
		path:  o.Path,
		done:  make(chan struct{}),
	}
	if err := srv.AddListener(b.ws); err != nil {
		ln.Close()
		srv.Close()
		return nil, err
	}
	if o.TCPAddr != "" {
		tln, err := net.Listen("tcp", o.TCPAddr)
		if err != nil {
			ln.Close()
			srv.Close()
			return nil, fmt.Errorf("broker: cannot listen on %s: %w", o.TCPAddr, err)
		}
		if o.TLSConfig != nil {
			tln = tls.NewListener(tln, o.TLSConfig)
		}
		b.tcp = newTCPListener(tln, guard.connEnded)
		if err := srv.AddListener(b.tcp); err != nil {
			ln.Close()
			tln.Close()
			srv.Close()
			return nil, err
		}
		b.tcpURL = tcpScheme + tln.Addr().String()
	}
	// The data folder is opened once the ports are ours: a second copy
	// of a game that finds its port taken never touches the folder.
	if o.DataDir != "" {
		store, err := openStore(o.DataDir, o.Persist, o.KeepSessions)
		if err == nil {
			if err = srv.AddHook(store, nil); err != nil {
				store.Stop()
			}
			guard.store = store
		}
		if err != nil {
			ln.Close()
			srv.Close()
			return nil, err
		}
	}

	// Last, so that no hook after it can drop a packet it locked for.
	if err := srv.AddHook(&packetLocks{aliasMax: caps.TopicAliasMaximum, routes: &guard.routes}, nil); err != nil {
		ln.Close()
		srv.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle(o.Path, b.ws)
	if o.Handler != nil {
		mux.Handle("/", o.Handler)
	}
	b.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}

	if err := srv.Serve(); err != nil {
		ln.Close()
		srv.Close()
		return nil, err
	}
	// mochi starts its listeners on goroutines: be ready before returning.
	<-b.ws.ready
	if b.tcp != nil {
		<-b.tcp.ready
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
		// mochi's Close must not overlap a connection being established:
		// stop accepting, end what is open, wait for every handler.
		b.ws.stopAccepting()
		b.tcp.stopAccepting()
		b.guard.drainAll()
		b.ws.closeAll()
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

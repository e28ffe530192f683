package mqttgame

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
)

// receiveMaximum is how many unacknowledged QoS 1 and 2 messages the
// broker may send the client at once; it bounds the messages held while
// the inbox has no room for them.
const receiveMaximum = 128

// Client is an MQTT v5 client made for a game loop. Network work happens
// on goroutines; the game sees its results one tick at a time:
//
//   - Update, called once per tick from the game's Update, makes what
//     arrived since the last tick visible. Until the next Update, nothing
//     the game reads changes.
//   - Update and the methods that read the tick's state (IsConnected,
//     JustConnected, OnMessage, LastMessage, Message, AppendMessages,
//     AppendEvents, Err, Stats, IsSubscribed, Topic) must be called from
//     the goroutine that calls Update, as Ebitengine's own input functions
//     must be called from the game's Update.
//   - Connect, Disconnect, Publish, Subscribe and Unsubscribe may be called
//     from any goroutine and never block: they check their arguments,
//     queue the work and return.
type Client struct {
	opts  Options
	urls  []*url.URL
	route *brokerRoute
	log   *slog.Logger
	id    string

	in      *inbox
	out     *outbox
	subs    *subscriptions
	ev      *events
	arrived arrival // something for the next tick; see Wait
	sess    *sessionState
	ping    *pinger
	gate    *readGate
	wg      sync.WaitGroup // every goroutine the client starts

	alias     *topicAliases
	keepAlive atomic.Int64 // the keepalive in force, a time.Duration
	will      willWatch

	mu          sync.Mutex // guards the fields below
	run         *run
	closed      bool
	connectedAt time.Time // when the current connection came up
	everUp      bool      // a connection came up once
	attempt     *attemptInfo
	assignedID  string
	failures    int // weighted failures since the last stable connection

	lastURL atomic.Pointer[string]

	// The tick's state, owned by the goroutine that calls Update.
	tick tickState
}

// tickState is what the game sees until the next Update.
type tickState struct {
	events         []Event
	connected      bool
	justConnected  bool
	justDisconnect bool
	connectFailed  bool
	err            error
	stats          Stats
	subscribed     map[string]QoS
}

// run is one Connect: it lasts until Disconnect, Close, or a session
// takeover ends it.
type run struct {
	stop     chan struct{} // closed to ask for a graceful end
	stopOnce sync.Once
	reason   atomic.Uint32 // DISCONNECT reason code to send
	done     chan struct{} // closed when every goroutine of the run ended
	down     chan struct{} // signalled when the connection drops
}

func (r *run) requestStop(reason ReasonCode) {
	r.stopOnce.Do(func() {
		r.reason.Store(uint32(reason))
		close(r.stop)
	})
}

func (r *run) stopping() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// attemptInfo follows one connection attempt and, if it succeeds, the
// connection: which broker, and the first thing that went wrong.
type attemptInfo struct {
	url    string
	target *url.URL     // the URL dialled
	creds  *Credentials // from Options.Credentials, if set

	mu  sync.Mutex
	err error
	ref string // the Server Reference of a CONNACK redirecting the client
}

func (a *attemptInfo) setReference(_ ReasonCode, ref string) {
	a.mu.Lock()
	a.ref = ref
	a.mu.Unlock()
}

func (a *attemptInfo) reference() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ref
}

func (a *attemptInfo) setErr(err error) {
	a.mu.Lock()
	if a.err == nil {
		a.err = err
	}
	a.mu.Unlock()
}

func (a *attemptInfo) firstErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// New checks the options and returns a client that is not connected yet;
// call Connect. opts may be nil only to be told what is missing.
func New(opts *Options) (*Client, error) {
	if opts == nil {
		opts = new(Options)
	}
	o := *opts
	o.Brokers = append([]string(nil), opts.Brokers...)
	if err := o.validate(); err != nil {
		return nil, err
	}
	o.ensureDefaults()
	c := &Client{opts: o, log: o.Logger}
	for _, raw := range o.Brokers {
		u, err := parseBrokerURL(raw)
		if err != nil {
			return nil, err
		}
		c.urls = append(c.urls, u)
		warnPlainText(c.log, u)
	}
	c.route = newBrokerRoute(c.urls)
	c.id = o.ClientID
	if c.id == "" && !o.BrokerAssignsClientID {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.id = "mqttgame-" + hex.EncodeToString(b[:])
	}
	c.arrived = newArrival()
	c.ev = &events{limit: o.EventQueueSize, arrived: c.arrived}
	c.in = newInbox(&o)
	c.in.arrived = c.arrived
	c.out = newOutbox(o.OutboxSize, c.ev.emit)
	c.subs = newSubscriptions(c.in.setRules, c.out.resume, c.ev.emit, o.AckTimeout)
	c.sess = newSessionState(c.out, &c.wg, c.log)
	c.in.acks = c.sess
	c.gate = newReadGate()
	c.in.holdLimit = receiveMaximum
	c.in.overflow = func(on bool) {
		if on {
			c.log.Warn("mqttgame: reading paused until the game catches up: the messages held unacknowledged pass the receive maximum (the broker ignores it) or MaxBufferedBytes", "receiveMaximum", receiveMaximum, "maxBufferedBytes", c.opts.MaxBufferedBytes)
		}
		c.gate.set(on)
	}
	c.ping = &pinger{onDead: c.noteErr, holding: c.gate.isPaused}
	c.alias = newTopicAliases(o.TopicAliases)
	c.tick.subscribed = make(map[string]QoS)
	c.sess.SetDebugLogger(pahoLogger{c.log, slog.LevelDebug, "paho session"})
	c.sess.SetErrorLogger(pahoLogger{c.log, slog.LevelWarn, "paho session"})
	return c, nil
}

// ClientID returns the client identifier: the one in Options, the one
// generated for it, or the one the broker assigned (with
// Options.BrokerAssignsClientID, "" until the first connection).
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.assignedID != "" {
		return c.assignedID
	}
	return c.id
}

// Broker returns the URL of the broker last connected to or tried.
func (c *Client) Broker() string {
	if p := c.lastURL.Load(); p != nil {
		return *p
	}
	return c.urls[0].String()
}

// Connect starts connecting in the background and returns at once; the
// outcome shows in later ticks (JustConnected, ConnectFailed, Err). Once
// connected, the client stays connected: after a lost connection it
// reconnects by itself, trying each broker URL in turn from the first,
// waiting longer after each failed round, and following a broker that
// sends it to another server (see Options.Brokers). Calling Connect while connecting or connected does
// nothing; after Disconnect it connects again. It fails only after Close.
func (c *Client) Connect() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	prev := c.run
	if prev != nil && !prev.stopping() {
		return nil
	}
	r := &run{stop: make(chan struct{}), done: make(chan struct{}), down: make(chan struct{}, 1)}
	c.run = r
	c.failures = 0
	c.wg.Add(1)
	go c.serve(r, prev)
	return nil
}

// Disconnect ends the connection gracefully and stops reconnecting. It
// returns at once; EventDisconnected follows. Publishes already accepted
// are sent first, for up to Options.ConnectTimeout; any left over stay
// queued for the next Connect. The broker does not publish the will.
// Subscriptions are kept and restored by the next Connect (use
// UnsubscribeAll first to drop them).
func (c *Client) Disconnect() { c.disconnect(Success) }

// DisconnectWithWill is Disconnect, but asks the broker to publish the
// will as if the connection had been lost (MQTT v5 reason 0x04): for a
// "player left" message that other players see the same way whether the
// player quit or crashed.
func (c *Client) DisconnectWithWill() { c.disconnect(DisconnectWithWill) }

func (c *Client) disconnect(reason ReasonCode) {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r != nil {
		r.requestStop(reason)
	}
}

// Close disconnects gracefully (as Disconnect), waits until every
// goroutine of the client has ended, and makes later calls to Connect fail
// with ErrClosed. It blocks for at most about twice Options.ConnectTimeout.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	r := c.run
	c.mu.Unlock()
	if r != nil {
		r.requestStop(Success)
	}
	c.wg.Wait()
	return nil
}

// serve runs one Connect until it ends.
func (c *Client) serve(r *run, prev *run) {
	defer c.wg.Done()
	defer close(r.done)
	if prev != nil {
		<-prev.done
	}
	c.route.start()
	life, endLife := context.WithCancel(context.Background())
	defer endLife()

	cm, err := autopaho.NewConnection(life, c.config(r, life))
	if err != nil {
		c.ev.emit(Event{Kind: EventConnectFailed, Err: err})
		c.endRun(r)
		return
	}
	// QoS 0 publishes go straight through paho; see outbox.Peek.
	c.out.setDirect(func(p *paho.Publish) error {
		_, err := cm.Publish(life, p)
		return err
	})
	defer c.out.setDirect(nil)
	subsCtx, endSubs := context.WithCancel(life)
	subsDone := make(chan struct{})
	go func() {
		defer close(subsDone)
		c.subs.serve(subsCtx, cm)
	}()
	acksDone := make(chan struct{})
	go func() {
		defer close(acksDone)
		c.watchAcks(subsCtx)
	}()

	graceful := false
	select {
	case <-r.stop:
		graceful = true
	case <-cm.Done(): // autopaho stopped by itself: the session was taken over
	}
	if graceful {
		c.drain(r, cm)
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ConnectTimeout)
		_ = cm.Disconnect(ctx)
		cancel()
	}
	endSubs()
	<-subsDone
	<-acksDone
	<-cm.Done()
	endLife()
	c.out.pause()
	c.subs.connected(false)
	c.in.dropHeld()
	wasUp := c.setDown()
	if graceful {
		if wasUp {
			c.log.Info("mqttgame: disconnected", "broker", c.Broker())
		}
		c.ev.emitAlways(Event{Kind: EventDisconnected, URL: c.Broker()})
	}
	c.endRun(r)
}

func (c *Client) endRun(r *run) {
	c.mu.Lock()
	if c.run == r {
		c.run = nil
	}
	c.mu.Unlock()
}

// drain waits, while connected, until the publishes already accepted are
// delivered, for up to ConnectTimeout.
func (c *Client) drain(r *run, cm *autopaho.ConnectionManager) {
	deadline := time.NewTimer(c.opts.ConnectTimeout)
	defer deadline.Stop()
	for c.isUp() && !c.out.idle() {
		select {
		case <-c.out.changed:
		case <-r.down:
		case <-cm.Done():
			return
		case <-deadline.C:
			return
		}
	}
}

func (c *Client) isUp() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.connectedAt.IsZero()
}

// setDown records that no connection is up and reports whether one was.
func (c *Client) setDown() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := !c.connectedAt.IsZero()
	c.connectedAt = time.Time{}
	return was
}

// config builds autopaho's configuration for a run.
func (c *Client) config(r *run, life context.Context) autopaho.ClientConfig {
	o := &c.opts
	c.mu.Lock()
	cleanStart := !o.ResumeSession && !c.everUp
	c.mu.Unlock()
	keepAlive := uint16(0)
	if o.KeepAlive > 0 {
		keepAlive = uint16((o.KeepAlive + time.Second/2) / time.Second)
		keepAlive = max(keepAlive, 1)
	}
	cfg := autopaho.ClientConfig{
		// brokerRoute picks the URL of each attempt; autopaho's loop over
		// its list would skip redirects and order the URLs its own way.
		ServerUrls:                    c.urls[:1],
		KeepAlive:                     keepAlive,
		CleanStartOnInitialConnection: cleanStart,
		SessionExpiryInterval:         uint32(o.SessionExpiry / time.Second),
		ReconnectBackoff:              c.backoff,
		ConnectTimeout:                o.ConnectTimeout,
		Queue:                         c.out,
		AttemptConnection: func(ctx context.Context, _ autopaho.ClientConfig, _ *url.URL) (net.Conn, error) {
			return c.dial(ctx, life)
		},
		OnConnectionUp:   func(_ *autopaho.ConnectionManager, ca *paho.Connack) { c.onUp(ca) },
		OnConnectionDown: func() bool { return c.onDown(r) },
		OnConnectError:   c.onConnectError,
		Debug:            pahoLogger{c.log, slog.LevelDebug, "autopaho"},
		Errors:           pahoLogger{c.log, slog.LevelWarn, "autopaho"},
		PahoDebug:        pahoLogger{c.log, slog.LevelDebug, "paho"},
		PahoErrors:       pahoLogger{c.log, slog.LevelWarn, "paho"},
		ConnectUsername:  o.Username,
		ConnectPassword:  []byte(o.Password),
		// autopaho builds the CONNECT first for each attempt, before the dial.
		ConnectPacketBuilder: func(cp *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			a := c.beginAttempt()
			if o.Credentials != nil {
				creds, err := c.credentials(life, a.target)
				if err != nil {
					return nil, err
				}
				a.creds = &creds
				cp.Username, cp.UsernameFlag = creds.Username, creds.Username != ""
				cp.Password, cp.PasswordFlag = []byte(creds.Password), creds.Password != ""
			}
			cp.ClientID = c.ClientID() // the one the broker assigned, once it did
			if cp.Properties == nil {
				cp.Properties = &paho.ConnectProperties{}
			}
			maxPacket := uint32(o.MaxPacketSize)
			recvMax := uint16(receiveMaximum)
			cp.Properties.MaximumPacketSize = &maxPacket
			cp.Properties.ReceiveMaximum = &recvMax
			cp.Properties.RequestProblemInfo = true
			if o.TopicAliases > 0 {
				n := uint16(o.TopicAliases)
				cp.Properties.TopicAliasMaximum = &n
			}
			c.will.built(cp)
			return cp, nil
		},
		DisconnectPacketBuilder: func() *paho.Disconnect {
			return &paho.Disconnect{ReasonCode: byte(r.reason.Load())}
		},
		ClientConfig: paho.ClientConfig{
			ClientID:          c.id,
			Session:           c.sess,
			PingHandler:       c.ping,
			PublishHook:       c.alias.outgoing,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){c.onPublish},
			PacketTimeout:     o.AckTimeout,
		},
	}
	if w := o.Will; w != nil {
		cfg.WillMessage = &paho.WillMessage{Topic: w.Topic, Payload: w.Payload, QoS: byte(w.QoS), Retain: w.Retain}
		cfg.WillProperties = &paho.WillProperties{ContentType: w.ContentType, User: pahoUser(w.UserProperties)}
		if w.Delay > 0 {
			d := uint32(w.Delay / time.Second)
			cfg.WillProperties.WillDelayInterval = &d
		}
	}
	return cfg
}

// beginAttempt starts a connection attempt to the URL the route picks.
func (c *Client) beginAttempt() *attemptInfo {
	u, redirected := c.route.pick()
	a := &attemptInfo{url: u.String(), target: u}
	c.mu.Lock()
	c.attempt = a
	c.mu.Unlock()
	c.lastURL.Store(&a.url)
	c.alias.reset()
	c.log.Debug("mqttgame: connecting", "broker", a.url, "redirected", redirected)
	return a
}

// credentials asks Options.Credentials for those of one attempt.
func (c *Client) credentials(life context.Context, u *url.URL) (Credentials, error) {
	ctx, cancel := context.WithTimeout(life, c.opts.ConnectTimeout)
	defer cancel()
	cp := *u
	creds, err := c.opts.Credentials(ctx, &cp)
	switch {
	case err != nil:
		return Credentials{}, fmt.Errorf("%w: %w", ErrCredentials, err)
	case len(creds.Username) > MaxTopicLength || len(creds.Password) > MaxTopicLength:
		return Credentials{}, fmt.Errorf("%w: user name or password over %d bytes", ErrCredentials, MaxTopicLength)
	}
	return creds, nil
}

// dial opens the transport for the attempt beginAttempt started; its
// life ends with the run.
func (c *Client) dial(ctx, life context.Context) (net.Conn, error) {
	c.mu.Lock()
	a := c.attempt
	c.mu.Unlock()
	conn, err := dial(ctx, life, a.target, &c.opts, a.creds)
	if err != nil {
		return nil, err
	}
	pc := newPacketConn(conn, c.opts.MaxPacketSize, c.gate, a.setErr)
	pc.redirect = c.sess.redirect
	pc.proto = newProtocolCheck(c.opts.TopicAliases)
	pc.proto.referred = a.setReference
	return pc, nil
}

// noteErr records why the current connection is failing, if nothing else
// was recorded first.
func (c *Client) noteErr(err error) {
	c.mu.Lock()
	a := c.attempt
	c.mu.Unlock()
	if a != nil {
		a.setErr(err)
	}
}

// backoff is autopaho's ReconnectBackoff: it ignores autopaho's attempt
// count, which starts again at every connection, and uses the client's
// own, which counts refusals and quick disconnections too, so a broker
// that keeps refusing or kicking the client sees fewer and fewer attempts.
func (c *Client) backoff(int) time.Duration {
	if c.route.noWait() {
		return 0
	}
	c.mu.Lock()
	n := c.failures
	c.mu.Unlock()
	var b [2]byte
	_, _ = rand.Read(b[:])
	return backoffDelay(n, c.opts.ReconnectDelay, c.opts.MaxReconnectDelay, float64(int(b[0])<<8|int(b[1]))/65536)
}

// backoffDelay is the wait after n weighted failures: none after none,
// then base doubling per failure up to max, moved by up to ±20% (jitter,
// from 0 to 1), so clients dropped together do not return together.
func backoffDelay(n int, base, max time.Duration, jitter float64) time.Duration {
	if n == 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - d/5 + time.Duration(float64(d)*2/5*jitter)
}

// Failure weights. A refusal, or a connection the broker ends with a
// failure code before it was stable, counts as three failures, so a
// broker that keeps refusing the client sees at most five attempts in the
// first minute, then about two a minute. A connection that ended by
// itself before it was stable counts as two: a broker that accepts and
// then drops the client within seconds sees about as few.
const (
	networkFailure = 1
	shortLived     = 2
	refusal        = 3
)

// minStable is the least time a connection must hold to count as stable;
// see stableAfter.
const minStable = 30 * time.Second

// stableAfter is how long a connection must hold before its loss starts
// the backoff over: 30 s, and at least two keepalive intervals, so that
// the connection has carried traffic both ways (a ping) and outlived a
// broker that drops clients after a few seconds.
func stableAfter(keepAlive time.Duration) time.Duration {
	return max(minStable, 2*keepAlive)
}

// failuresAfterLoss is the count of weighted failures after a connection
// ended: started over after a stable one (at a refusal's weight if the
// broker ended it with a failure code), grown after one that was not.
func failuresAfterLoss(failures int, stable, kicked, shuttingDown bool) int {
	switch {
	case shuttingDown:
		// A restarting broker: try again at once, then back off while
		// it is away.
		return 0
	case stable && kicked:
		return refusal
	case stable:
		return 0
	case kicked:
		return failures + refusal
	default:
		return failures + shortLived
	}
}

func (c *Client) onUp(ca *paho.Connack) {
	l := limits{maxQoS: ExactlyOnce}
	var assigned string
	keepAlive := time.Duration(0)
	if c.opts.KeepAlive > 0 {
		keepAlive = max(c.opts.KeepAlive.Round(time.Second), time.Second)
	}
	if p := ca.Properties; p != nil {
		if p.ServerKeepAlive != nil {
			keepAlive = time.Duration(*p.ServerKeepAlive) * time.Second // paho's pinger follows it
		}
		if p.MaximumPacketSize != nil {
			l.maxPacket = int(*p.MaximumPacketSize)
		}
		if p.MaximumQoS != nil {
			l.maxQoS = QoS(*p.MaximumQoS)
		}
		l.noRetain = !p.RetainAvailable
		assigned = p.AssignedClientID
		if p.TopicAliasMaximum != nil {
			c.alias.connected(*p.TopicAliasMaximum, l.maxPacket)
		}
	}
	c.out.connected(l)
	c.will.connected()
	c.subs.features.Store(featuresOf(ca))
	c.keepAlive.Store(int64(keepAlive))
	c.route.up()
	c.mu.Lock()
	c.connectedAt = time.Now()
	c.everUp = true
	if assigned != "" {
		c.assignedID = assigned
	}
	url := ""
	if c.attempt != nil {
		url = c.attempt.url
	}
	c.mu.Unlock()
	c.subs.limit(l.maxPacket)
	c.subs.connected(true)
	c.log.Info("mqttgame: connected", "broker", url, "sessionPresent", ca.SessionPresent)
	c.ev.emitAlways(Event{Kind: EventConnected, URL: url, SessionPresent: ca.SessionPresent})
}

// onDown reports a lost connection and decides whether to reconnect: not
// after a session takeover, where reconnecting would push the other client
// off in turn, forever.
func (c *Client) onDown(r *run) bool {
	c.out.pause()
	c.subs.connected(false)
	c.in.dropHeld()
	c.mu.Lock()
	upFor := time.Since(c.connectedAt)
	c.connectedAt = time.Time{}
	a := c.attempt
	c.mu.Unlock()
	select {
	case r.down <- struct{}{}:
	default:
	}

	c.route.lost()
	var cause error
	kicked, redirected := false, false
	// Whether a message just sent may have made the broker end the
	// connection: not when the broker said another reason, nor when the
	// client gave up waiting for an answer.
	blame, limit := true, maxSilentStrikes
	if dp := c.sess.lastDisconnect(); dp != nil {
		be := &BrokerError{Op: "disconnect", Code: ReasonCode(dp.ReasonCode)}
		if dp.Properties != nil {
			be.Reason = dp.Properties.ReasonString
			be.ServerReference = dp.Properties.ServerReference
		}
		if isRedirect(be.Code) {
			redirected = c.followRedirect(be) == nil
		}
		// A broker shutting down or timing the client out is not refusing
		// it: reconnect as after a network failure.
		cause, kicked = be, be.Code.IsFailure() && be.Code != ServerShuttingDown && be.Code != KeepAliveTimeout && !redirected
		blame, limit = be.Code.blamesPacket(), maxStrikes
	} else if a != nil {
		cause = a.firstErr()
		// A broker that broke the protocol is backed off from as one that
		// refuses the client; what the client sent last did not cause it.
		kicked = brokeProtocol(cause)
		blame = !errors.Is(cause, errKeepAlive) && !errors.Is(cause, ErrTimeout) && !kicked
	}
	if upFor < 5*time.Second && blame {
		c.strike(limit)
	}
	stable := upFor >= stableAfter(time.Duration(c.keepAlive.Load()))
	c.mu.Lock()
	c.failures = failuresAfterLoss(c.failures, stable, kicked, errors.Is(cause, ServerShuttingDown) || redirected)
	c.mu.Unlock()

	err := &LostError{Err: cause}
	url := c.Broker()
	c.log.Warn("mqttgame: connection lost", "broker", url, "err", err)
	c.ev.emitAlways(Event{Kind: EventConnectionLost, URL: url, Err: err})
	if errors.Is(cause, SessionTakenOver) {
		c.log.Warn("mqttgame: not reconnecting: another client took the session over", "clientID", c.ClientID())
		return false
	}
	return true
}

func (c *Client) onConnectError(err error) {
	c.mu.Lock()
	a := c.attempt
	c.mu.Unlock()
	url := ""
	if a != nil {
		url = a.url
	}
	weight := networkFailure
	cause := err
	if inner := errors.Unwrap(err); inner != nil {
		cause = inner // drop autopaho's "failed to connect to URL" prefix
	}
	willErr := c.will.refused(cause)
	var ce *autopaho.ConnackError
	switch {
	case errors.As(err, &ce) && ce.ReasonCode == byte(Success):
		// The broker accepted; the connection failed right after (paho
		// could not resend what the session holds): a network failure.
		cause = ce.Err
	case errors.As(err, &ce):
		code := ReasonCode(ce.ReasonCode)
		if code < 0x80 {
			code = v3Connack(ce.ReasonCode)
		}
		be := &BrokerError{Op: "connect", Code: code, Reason: ce.Reason}
		cause, weight = be, refusal
		if isRedirect(code) && a != nil {
			be.ServerReference = a.reference()
			if err := c.followRedirect(be); err != nil {
				cause = fmt.Errorf("%w: %w", err, be)
			} else {
				weight = 0 // the broker answered; the next attempt goes on at once
			}
		}
	case a != nil && brokeProtocol(a.firstErr()):
		// The broker broke the protocol, or is no MQTT v5 broker; the
		// rest followed from it. Retrying soon will not help.
		cause = a.firstErr()
		weight = refusal
	case willErr != nil:
		// Closed without a CONNACK, again and again, with a will set.
		cause, weight = willErr, refusal
	case a != nil && errors.Is(a.firstErr(), ErrNoConnack):
		cause = a.firstErr()
	case errors.Is(err, ErrCredentials):
		weight = refusal
	case isTimeout(err):
		// The connection was closed for the timeout; say so, not what
		// the closing did to the reads.
		cause = fmt.Errorf("%w after %v: %v", ErrTimeout, c.opts.ConnectTimeout, cause)
	}
	c.mu.Lock()
	c.failures += weight
	c.mu.Unlock()
	ce2 := &ConnectError{URL: url, Err: cause}
	c.log.Warn("mqttgame: connect failed", "broker", url, "err", cause)
	c.ev.emitAlways(Event{Kind: EventConnectFailed, URL: url, Err: ce2})
}

// followRedirect sends the next attempt where be, a CONNACK or DISCONNECT
// with UseAnotherServer or ServerMoved, says; it returns why not when it
// does not.
func (c *Client) followRedirect(be *BrokerError) error {
	from := c.Broker()
	to, err := c.route.refer(be.Code, be.ServerReference)
	if err != nil {
		c.log.Warn("mqttgame: redirect not followed", "broker", from, "code", be.Code, "serverReference", be.ServerReference, "err", err)
		return err
	}
	lasts := "the next attempt"
	if be.Code == ServerMoved {
		lasts = "the rest of the run"
	}
	c.log.Info("mqttgame: redirected", "broker", from, "to", to.Redacted(), "code", be.Code, "for", lasts)
	return nil
}

// onPublish stages a received message for the next ticks.
func (c *Client) onPublish(pr paho.PublishReceived) (bool, error) {
	p := pr.Packet
	topic, ok := c.alias.incoming(p)
	if !ok {
		// protocolCheck ends the connection before such a packet gets here.
		c.log.Warn("mqttgame: message dropped: the broker used a topic alias it never set", "alias", *p.Properties.TopicAlias)
		return true, nil
	}
	m := Message{Topic: topic, Payload: p.Payload, QoS: QoS(p.QoS), Retain: p.Retain}
	if pp := p.Properties; pp != nil {
		m.ContentType = pp.ContentType
		m.ResponseTopic = pp.ResponseTopic
		m.CorrelationData = pp.CorrelationData
		m.PayloadUTF8 = pp.PayloadFormat != nil && *pp.PayloadFormat == 1
		if pp.MessageExpiry != nil {
			m.Expiry = time.Duration(*pp.MessageExpiry) * time.Second
		}
		if pp.SubscriptionIdentifier != nil {
			m.SubscriptionID = *pp.SubscriptionIdentifier
		}
		if len(pp.User) > 0 {
			m.UserProperties = make([]UserProperty, len(pp.User))
			for i, u := range pp.User {
				m.UserProperties[i] = UserProperty{Key: u.Key, Value: u.Value}
			}
		}
	}
	var token ackToken
	if p.QoS > 0 {
		token = c.sess.token(p.PacketID, p.QoS)
	}
	c.in.put(m, token)
	return true, nil
}

// Update makes what arrived since the last tick visible: at most one
// message per topic, the events, the connection state and the counters.
// Call it once at the start of every tick of the game's Update (Ebitengine
// may call Update more than once per drawn frame; each call is a tick).
// It never blocks on the network and allocates nothing in the steady state.
func (c *Client) Update() {
	t := &c.tick
	var dropped uint64
	t.events, dropped = c.ev.swap(t.events)
	t.justConnected, t.justDisconnect, t.connectFailed = false, false, false
	for i := range t.events {
		e := &t.events[i]
		switch e.Kind {
		case EventConnected:
			t.connected, t.justConnected = true, true
			t.stats.Connects++
		case EventConnectionLost, EventDisconnected:
			if t.connected {
				t.justDisconnect = true
			}
			t.connected = false
			clear(t.subscribed)
			if e.Kind == EventConnectionLost {
				t.stats.ConnectionsLost++
			}
		case EventConnectFailed:
			t.connectFailed = true
		case EventSubscribed:
			t.subscribed[e.Topic] = e.QoS
		case EventSubscribeFailed, EventUnsubscribed:
			delete(t.subscribed, e.Topic)
		}
		if e.Err != nil {
			t.err = e.Err
		}
	}
	c.in.update()
	ic := c.in.counters()
	t.stats.Received = ic.received
	t.stats.Shown = ic.shown
	t.stats.Holding = ic.holding
	t.stats.DroppedReplaced = ic.replaced
	t.stats.DroppedQueueFull = ic.queueFull
	t.stats.DroppedTopicLimit = ic.topicLimit
	t.stats.DroppedBytesLimit = ic.bytesLimit
	t.stats.TopicsForgotten = ic.forgotten
	t.stats.Held = ic.held
	t.stats.Waiting = ic.waiting
	t.stats.WaitingBytes = ic.waitingBytes
	t.stats.BufferedBytes = ic.bufferedBytes
	t.stats.DroppedEvents = dropped
	c.out.mu.Lock()
	t.stats.Sent = c.out.counts.sent
	t.stats.Delivered = c.out.counts.delivered
	t.stats.PublishFailed = c.out.counts.failed
	t.stats.Queued = len(c.out.queue) - c.out.head
	t.stats.InFlight = len(c.out.inflight)
	c.out.mu.Unlock()
}

// IsConnected reports whether the client was connected as of this tick.
func (c *Client) IsConnected() bool { return c.tick.connected }

// JustConnected reports whether a connection came up this tick (the first
// one, or a reconnection).
func (c *Client) JustConnected() bool { return c.tick.justConnected }

// JustDisconnected reports whether the connection ended this tick, lost
// or by Disconnect.
func (c *Client) JustDisconnected() bool { return c.tick.justDisconnect }

// ConnectFailed reports whether a connection attempt failed this tick;
// Err says why.
func (c *Client) ConnectFailed() bool { return c.tick.connectFailed }

// Err returns the latest error of any tick so far (a failed connection
// attempt, a lost connection, a refused subscription or publish), until
// ClearErr. Match it with errors.Is against ReasonCode values
// (NotAuthorized, BadUsernameOrPassword, …) or sentinels (ErrTimeout,
// ErrUnreachable, ErrConnectionLost, ErrNotMQTT, ErrProtocolViolation),
// or errors.As with *BrokerError or *ViolationError.
func (c *Client) Err() error { return c.tick.err }

// ClearErr forgets the current error, once the game has dealt with it.
func (c *Client) ClearErr() { c.tick.err = nil }

// AppendEvents appends the events of this tick to dst and returns it,
// like ebiten.AppendInputChars: pass a reused slice to allocate nothing.
func (c *Client) AppendEvents(dst []Event) []Event { return append(dst, c.tick.events...) }

// Stats returns the client's counters as of this tick.
func (c *Client) Stats() Stats { return c.tick.stats }

// IsSubscribed reports whether the broker has granted a subscription to
// exactly this filter on the current connection, as of this tick.
func (c *Client) IsSubscribed(filter string) bool {
	_, ok := c.tick.subscribed[filter]
	return ok
}

// OnMessage reports whether a message for topic became visible this tick.
// With a filter ("players/+/pos"), it reports whether any topic it matches
// got one. Use AppendMessages to read them all.
func (c *Client) OnMessage(topic string) bool { return c.in.onMessage(topic) }

// LastMessage returns the payload of the latest visible message of topic,
// or "" if none arrived yet. It stays until a newer message of the topic
// becomes visible. With a filter, it returns the newest message of any
// topic the filter matches. An empty retained message (a cleared value)
// reads as "".
func (c *Client) LastMessage(topic string) string {
	if m := c.in.last(topic); m != nil {
		return bytesString(m.Payload)
	}
	return ""
}

// Message returns the latest visible message of topic, with its QoS,
// retain flag and MQTT v5 properties, and whether there is one. With a
// filter, the newest message of any topic it matches.
func (c *Client) Message(topic string) (Message, bool) {
	if m := c.in.last(topic); m != nil {
		return *m, true
	}
	return Message{}, false
}

// AppendMessages appends to dst the messages that became visible this
// tick on topics matching filter ("#" for all but $-topics) and returns
// it. Messages that came through a wildcard or shared subscription are
// kept under their own topic; this is how to read them together.
func (c *Client) AppendMessages(dst []Message, filter string) []Message {
	return c.in.appendShown(dst, filter)
}

// Publish queues a message and returns at once. It checks the topic, the
// QoS and the size first and returns an error naming the problem, or
// ErrOutboxFull when Options.OutboxSize messages are waiting; nothing is
// queued then. Publishing while disconnected queues the message for the
// next connection. The payload is copied. Delivery shows in later ticks
// as EventDelivered (QoS 1 and 2) or EventPublishFailed.
func (c *Client) Publish(topic string, payload []byte, qos QoS, retain bool) (PublishID, error) {
	return c.publish(Message{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
}

// PublishString is Publish with a string payload.
func (c *Client) PublishString(topic, payload string, qos QoS, retain bool) (PublishID, error) {
	return c.publish(Message{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain, PayloadUTF8: false})
}

// PublishMessage is Publish with MQTT v5 properties: content type,
// response topic, correlation data, user properties, payload format,
// expiry. SubscriptionID is ignored.
func (c *Client) PublishMessage(m *Message) (PublishID, error) {
	cp := *m
	cp.SubscriptionID = 0
	cp.UserProperties = append([]UserProperty(nil), m.UserProperties...)
	cp.CorrelationData = bytes.Clone(m.CorrelationData)
	return c.publish(cp)
}

// ClearRetained asks the broker to forget the retained message of topic
// (an empty retained publish at QoS 1).
func (c *Client) ClearRetained(topic string) (PublishID, error) {
	return c.publish(Message{Topic: topic, QoS: AtLeastOnce, Retain: true})
}

func (c *Client) publish(m Message) (PublishID, error) {
	if err := ValidateTopic(m.Topic); err != nil {
		return 0, err
	}
	if m.QoS > ExactlyOnce {
		return 0, fmt.Errorf("%w: %d is not 0, 1 or 2 (publishing to %s)", ErrInvalidQoS, m.QoS, quoteShort(m.Topic))
	}
	if m.Expiry < 0 {
		return 0, fmt.Errorf("mqttgame: cannot publish to %s: negative expiry %v", quoteShort(m.Topic), m.Expiry)
	}
	if err := checkProperties(m.ContentType, m.ResponseTopic, m.CorrelationData, m.UserProperties); err != nil {
		return 0, fmt.Errorf("mqttgame: cannot publish to %s: %w", quoteShort(m.Topic), err)
	}
	m.Payload = bytes.Clone(m.Payload)
	return c.out.add(m)
}

// Subscribe subscribes to a topic or filter at the given QoS in the
// client's default data-loss mode. See SubscribeWith.
func (c *Client) Subscribe(filter string, qos QoS) error {
	return c.SubscribeWith(filter, SubscribeOptions{QoS: qos})
}

// SubscribeWith subscribes with every option, including the data-loss
// mode of the topics the filter matches. It checks the filter and options
// and returns an error naming the problem: a *LimitError when,
// connected, the broker's maximum packet size has no room for the filter;
// a *BrokerError (SharedSubNotSupported, WildcardSubNotSupported,
// SubIDNotSupported) when, connected, the broker announced it has no
// shared subscriptions, wildcards or subscription identifiers and the
// subscription needs them. Otherwise it returns at once, and the
// subscription is sent when connected, in SUBSCRIBE packets that fit the
// broker's maximum size. Exactly one of EventSubscribed or
// EventSubscribeFailed follows (see its Err for the reasons, timeouts
// included). The subscription is restored after every reconnect.
// Subscribing again to the same filter replaces its options.
func (c *Client) SubscribeWith(filter string, opts SubscribeOptions) error {
	if err := ValidateFilter(filter); err != nil {
		return err
	}
	if err := opts.check(); err != nil {
		return fmt.Errorf("mqttgame: cannot subscribe to %s: %w", quoteShort(filter), err)
	}
	if c.isUp() {
		if code := c.subs.features.Load().refusal(filter, opts); code != Success {
			return refusedByConnack(filter, code)
		}
	}
	opts.UserProperties = append([]UserProperty(nil), opts.UserProperties...)
	return c.subs.add(filter, opts)
}

// Unsubscribe removes a subscription; EventUnsubscribed follows once the
// broker confirms, or EventUnsubscribeFailed. Like SubscribeWith, it
// refuses a filter the connected broker's maximum packet size has no room
// for. Messages already waiting are still shown.
func (c *Client) Unsubscribe(filter string) error {
	if err := ValidateFilter(filter); err != nil {
		return err
	}
	return c.subs.remove(filter)
}

// UnsubscribeAll removes every subscription the game made.
func (c *Client) UnsubscribeAll() { c.subs.removeAll() }

// Subscriptions returns the filters subscribed to, in the order they were
// first subscribed.
func (c *Client) Subscriptions() []string { return c.subs.filters() }

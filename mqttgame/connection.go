package mqttgame

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// run is one Connect: it lasts until Disconnect, Close, or a session
// takeover ends it.
type run struct {
	ctx      context.Context // ends when a graceful end is asked for
	stop     context.CancelFunc
	stopOnce sync.Once
	reason   atomic.Uint32 // DISCONNECT reason code to send
	done     chan struct{} // closed when every goroutine of the run ended
}

func newRun() *run {
	r := &run{done: make(chan struct{})}
	r.ctx, r.stop = context.WithCancel(context.Background())
	return r
}

func (r *run) requestStop(reason ReasonCode) {
	r.stopOnce.Do(func() {
		r.reason.Store(uint32(reason))
		r.stop()
	})
}

func (r *run) stopping() bool { return r.ctx.Err() != nil }

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

// serve is the connection loop of one Connect: wait as the reconnect
// policy says, dial, connect, serve the connection until it ends, and
// again, until the run is stopped or must not go on.
func (c *Client) serve(r *run, prev *run) {
	defer c.wg.Done()
	defer close(r.done)
	if prev != nil {
		<-prev.done
	}
	c.route.start()
	life, endLife := context.WithCancel(context.Background())
	defer endLife()

	graceful := true
	for c.pause(r, c.backoff()) {
		l, ca, err := c.connect(r, life)
		if err != nil {
			if r.stopping() {
				break
			}
			c.connectFailed(err, ca)
			continue
		}
		if c.connected(r, l, ca) {
			break
		}
		if !c.lost() {
			graceful = false
			break
		}
	}
	endLife()
	c.out.pause()
	c.subs.down()
	c.in.dropHeld()
	wasUp := c.setDown()
	if graceful {
		if wasUp {
			c.log.Info("mqttgame: disconnected", "broker", c.Broker())
		}
		c.ev.emitAlways(Event{Kind: EventDisconnected, URL: c.Broker()})
	}
	c.mu.Lock()
	if c.run == r {
		c.run = nil
	}
	c.mu.Unlock()
}

// pause waits d, and reports whether the run goes on.
func (c *Client) pause(r *run, d time.Duration) bool {
	if d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.ctx.Done():
		}
	}
	return !r.stopping()
}

// link is one connection to the broker: paho's client over the
// connection, and the pinger keeping it alive.
type link struct {
	cli  *paho.Client
	conn *packetConn
	ping *pinger
}

// connect makes one attempt: the CONNECT, the dial, and paho's exchange
// of CONNECT and CONNACK. On failure it returns the broker's CONNACK,
// if one came.
func (c *Client) connect(r *run, life context.Context) (*link, *paho.Connack, error) {
	a := c.beginAttempt()
	ctx, cancel := context.WithTimeout(r.ctx, c.opts.ConnectTimeout)
	defer cancel()
	cp, err := c.connectPacket(r.ctx, a)
	if err != nil {
		return nil, nil, err
	}
	conn, err := dial(r.ctx, life, a.target, &c.opts, a.creds)
	if err != nil {
		return nil, nil, err
	}
	ping := newPinger(c.noteErr, c.gate.isPaused)
	publishes := newPublishReader(func(p *packets.Publish) {
		ping.PacketReceived() // paho does so for the packets it reads
		c.received(p)
	})
	pc := newPacketConn(conn, c.opts.MaxPacketSize, c.gate, a.setErr, newProtocolCheck(c.opts.TopicAliases, a.setReference), publishes)
	cli := paho.NewClient(paho.ClientConfig{
		ClientID:      cp.ClientID,
		Conn:          pc,
		Session:       c.sess,
		PingHandler:   ping,
		PacketTimeout: c.opts.AckTimeout,
	})
	cli.SetDebugLogger(pahoLogger{c.log, slog.LevelDebug, "paho"})
	cli.SetErrorLogger(pahoLogger{c.log, slog.LevelWarn, "paho"})
	ca, err := cli.Connect(ctx, cp)
	if err != nil {
		return nil, ca, err
	}
	return &link{cli: cli, conn: pc, ping: ping}, ca, nil
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

// connectPacket builds the CONNECT of attempt a.
func (c *Client) connectPacket(ctx context.Context, a *attemptInfo) (*paho.Connect, error) {
	o := &c.opts
	c.mu.Lock()
	cleanStart := !o.ResumeSession && !c.everUp
	c.mu.Unlock()
	cp := &paho.Connect{
		ClientID:   c.ClientID(), // the one the broker assigned, once it did
		CleanStart: cleanStart,
		Properties: &paho.ConnectProperties{RequestProblemInfo: true},
	}
	if o.KeepAlive > 0 {
		cp.KeepAlive = max(uint16((o.KeepAlive+time.Second/2)/time.Second), 1)
	}
	if expiry := uint32(o.SessionExpiry / time.Second); expiry != 0 {
		cp.Properties.SessionExpiryInterval = &expiry
	}
	maxPacket, recvMax := uint32(o.MaxPacketSize), uint16(receiveMaximum)
	cp.Properties.MaximumPacketSize = &maxPacket
	cp.Properties.ReceiveMaximum = &recvMax
	if o.TopicAliases > 0 {
		n := uint16(o.TopicAliases)
		cp.Properties.TopicAliasMaximum = &n
	}
	user, pass := o.Username, o.Password
	if o.Credentials != nil {
		creds, err := c.credentials(ctx, a.target)
		if err != nil {
			return nil, err
		}
		a.creds = &creds
		user, pass = creds.Username, creds.Password
	}
	cp.Username, cp.UsernameFlag = user, user != ""
	cp.Password, cp.PasswordFlag = []byte(pass), pass != ""
	if w := o.Will; w != nil {
		cp.WillMessage = &paho.WillMessage{Topic: w.Topic, Payload: w.Payload, QoS: byte(w.QoS), Retain: w.Retain}
		cp.WillProperties = &paho.WillProperties{ContentType: w.ContentType, User: pahoUser(w.UserProperties)}
		if w.Delay > 0 {
			d := uint32(w.Delay / time.Second)
			cp.WillProperties.WillDelayInterval = &d
		}
	}
	c.will.built(cp)
	return cp, nil
}

// credentials asks Options.Credentials for those of one attempt.
func (c *Client) credentials(ctx context.Context, u *url.URL) (Credentials, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ConnectTimeout)
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

// connected serves a connection that came up until it ends, and reports
// whether the run was stopped (the connection then ended gracefully).
// While it lasts, three goroutines work on it: the outbox's sender, the
// subscriptions' and the acknowledgement watch; all end before it
// returns, so nothing of this connection reaches the next.
func (c *Client) connected(r *run, l *link, ca *paho.Connack) (stopped bool) {
	cli, pc := l.cli, l.conn
	c.up(ca)
	ctx, end := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		c.out.send(ctx, cli, pc, func(p *packets.Publish) error { return c.writeAtMostOnce(l, p) })
	}()
	go func() {
		defer wg.Done()
		c.subs.serve(ctx, cli)
	}()
	go func() {
		defer wg.Done()
		c.watchAcks(ctx, pc)
	}()
	select {
	case <-r.ctx.Done():
		stopped = true
		c.drain(cli)
	case <-cli.Done():
	}
	end()
	wg.Wait()
	if stopped {
		// A broker that reads nothing must not hold the DISCONNECT's write.
		t := time.AfterFunc(c.opts.ConnectTimeout, func() { _ = pc.Close() })
		_ = cli.Disconnect(&paho.Disconnect{ReasonCode: byte(r.reason.Load())})
		t.Stop()
	}
	<-cli.Done()
	return stopped
}

// watchAcks follows the QoS 1 and 2 messages in flight on conn until ctx
// ends with it. A broker that leaves one unacknowledged for AckTimeout on
// a live connection is treated as a broken connection: the client ends
// it, and the message goes again on the next (see outbox.overdue).
// Without this, such a message would wait for its acknowledgement
// forever, and hold a place in the outbox and in the broker's receive
// maximum.
func (c *Client) watchAcks(ctx context.Context, conn *packetConn) {
	timeout := c.opts.AckTimeout
	t := time.NewTicker(max(timeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, failed := c.out.overdue(timeout, maxAckTimeouts)
		if m == nil {
			continue
		}
		if failed {
			c.sess.forget(m.packetID)
			continue
		}
		err := fmt.Errorf("%w waiting %v for the acknowledgement of message #%d to %s", ErrTimeout, timeout, m.id, quoteShort(m.msg.Topic))
		c.log.Warn("mqttgame: ending the connection: a message was not acknowledged in time", "topic", m.msg.Topic, "id", m.id, "timeout", timeout)
		c.noteErr(err)
		_ = conn.Close()
	}
}

// drain waits, while connected, until the publishes already accepted are
// delivered, for up to ConnectTimeout.
func (c *Client) drain(cli *paho.Client) {
	deadline := time.NewTimer(c.opts.ConnectTimeout)
	defer deadline.Stop()
	for !c.out.idle() {
		select {
		case <-c.out.changed:
		case <-cli.Done():
			return
		case <-deadline.C:
			return
		}
	}
}

// up records a connection the broker accepted and tells every part.
func (c *Client) up(ca *paho.Connack) {
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
	c.subs.up(l.maxPacket, featuresOf(ca))
	c.log.Info("mqttgame: connected", "broker", url, "sessionPresent", ca.SessionPresent)
	c.ev.emitAlways(Event{Kind: EventConnected, URL: url, SessionPresent: ca.SessionPresent})
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

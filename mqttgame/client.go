package mqttgame

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
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
	gate    *readGate
	alias   *topicAliases
	will    *willWatch
	wg      sync.WaitGroup // every goroutine the client starts

	keepAlive atomic.Int64 // the keepalive in force, a time.Duration
	lastURL   atomic.Pointer[string]

	mu          sync.Mutex // guards the fields below
	run         *run
	closed      bool
	connectedAt time.Time // when the current connection came up
	everUp      bool      // a connection came up once
	attempt     *attemptInfo
	assignedID  string
	failures    int // weighted failures since the last stable connection

	// The tick's state, owned by the goroutine that calls Update.
	tick tickState
}

// New checks the options and returns a client that is not connected yet;
// call Connect. opts may be nil only to be told what is missing.
//
// New is where the client's parts are put together, each given what it
// needs: the network side (connection loop, session, outbox, pinger) feeds
// the inbox and the events, which the tick reads.
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
	c.id = o.ClientID
	if c.id == "" && !o.BrokerAssignsClientID {
		var b [6]byte
		_, _ = rand.Read(b[:])
		c.id = "mqttgame-" + hex.EncodeToString(b[:])
	}

	c.route = newBrokerRoute(c.urls)
	c.arrived = newArrival()
	c.ev = newEvents(o.EventQueueSize, c.arrived)
	c.out = newOutbox(o.OutboxSize, c.ev.emit)
	c.sess = newSessionState(c.out, &c.wg, c.log)
	c.gate = newReadGate()
	c.in = newInbox(&o, c.arrived, c.sess, receiveMaximum, c.readingPaused)
	c.subs = newSubscriptions(c.in.setRules, c.out.pause, c.out.resume, c.ev.emit, o.AckTimeout)
	c.alias = newTopicAliases(o.TopicAliases)
	c.will = new(willWatch)
	c.tick = newTickState()
	return c, nil
}

// readingPaused is told when the inbox holds too much for the game (see
// readGate).
func (c *Client) readingPaused(on bool) {
	if on {
		c.log.Warn("mqttgame: reading paused until the game catches up: the messages held unacknowledged pass the receive maximum (the broker ignores it) or MaxBufferedBytes", "receiveMaximum", receiveMaximum, "maxBufferedBytes", c.opts.MaxBufferedBytes)
	}
	c.gate.set(on)
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

// KeepAlive returns the keepalive in force since the latest connection
// came up: Options.KeepAlive in whole seconds, or the Server Keep Alive
// the broker set in CONNACK, which the client follows instead. 0 before
// the first connection, or when the keepalive is off. It may be called
// from any goroutine.
func (c *Client) KeepAlive() time.Duration { return time.Duration(c.keepAlive.Load()) }

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
	r := newRun()
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
func (c *Client) Disconnect() { c.disconnect(ReasonSuccess) }

// DisconnectWithWill is Disconnect, but asks the broker to publish the
// will as if the connection had been lost (MQTT v5 reason 0x04): for a
// "player left" message that other players see the same way whether the
// player quit or crashed.
func (c *Client) DisconnectWithWill() { c.disconnect(ReasonDisconnectWithWill) }

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
		r.requestStop(ReasonSuccess)
	}
	c.wg.Wait()
	return nil
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
// a *BrokerError (ReasonSharedSubNotSupported, ReasonWildcardSubNotSupported,
// ReasonSubIDNotSupported) when, connected, the broker announced it has no
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
		if code := c.subs.refusal(filter, opts); code != ReasonSuccess {
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

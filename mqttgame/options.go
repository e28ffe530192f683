package mqttgame

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// QoS is an MQTT quality of service level.
type QoS byte

// The three MQTT delivery guarantees.
const (
	AtMostOnce  QoS = 0 // fire and forget
	AtLeastOnce QoS = 1 // acknowledged; may arrive twice after a reconnect
	ExactlyOnce QoS = 2 // acknowledged in two steps; arrives once
)

// DataLoss decides what happens to the messages of one topic that arrive
// faster than the game's ticks show them: each Update makes at most one
// message per topic visible.
type DataLoss uint8

const (
	// DefaultDataLoss, in SubscribeOptions, means "use Options.DataLoss".
	DefaultDataLoss DataLoss = iota
	// LatestWins keeps only the newest waiting message of a topic; the
	// ones it replaces are counted in Stats.DroppedReplaced. Right for
	// positions, sensor values, anything where only the present matters.
	LatestWins
	// FIFO queues the messages of a topic and shows them one per tick, in
	// arrival order. Right for chat and game events. The queue holds up
	// to Options.TopicQueueSize messages.
	FIFO
)

// String returns the mode's name, as ParseDataLoss reads it.
func (d DataLoss) String() string {
	switch d {
	case DefaultDataLoss:
		return "default"
	case LatestWins:
		return "latest-wins"
	case FIFO:
		return "fifo"
	}
	return "DataLoss(" + strconv.Itoa(int(d)) + ")"
}

// ParseDataLoss reads "latest" (or "latest-wins") and "fifo", as a command
// line flag would give them.
func ParseDataLoss(s string) (DataLoss, error) {
	switch strings.ToLower(s) {
	case "latest", "latest-wins", "latestwins":
		return LatestWins, nil
	case "fifo":
		return FIFO, nil
	}
	return 0, fmt.Errorf("mqttgame: unknown data-loss mode %q (want latest or fifo)", s)
}

// Will is the message the broker publishes for the client when its
// connection ends without a graceful Disconnect (or after
// DisconnectWithWill).
type Will struct {
	Topic   string
	Payload []byte
	QoS     QoS
	Retain  bool
	// Delay lets the broker wait before publishing the will; if the client
	// is back within it, no will is sent (a page reload does not flicker).
	// Rounded down to whole seconds. Defaults to 0: publish at once.
	Delay time.Duration
	// ContentType and UserProperties are sent with the will. Optional.
	ContentType    string
	UserProperties []UserProperty
}

// Credentials are what Options.Credentials supplies for one connection
// attempt. None of it is logged.
type Credentials struct {
	// Username and Password are sent in CONNECT when not empty.
	Username string
	Password string
	// Query is set on a ws:// or wss:// URL's query for the WebSocket
	// handshake, replacing parameters of the same name (as MQTT.js's
	// transformWsUrl would); ignored for mqtt://, tcp:// and mqtts://.
	Query url.Values
	// Header is sent with the WebSocket handshake, natively only: the
	// browser cannot set headers (use Query there). Ignored for mqtt://,
	// tcp:// and mqtts://.
	Header http.Header
}

// Options configures a Client. The zero value of every field is a good
// default, except Brokers, which needs at least one URL.
type Options struct {
	// Brokers lists broker URLs, tried in order until one accepts, with
	// no wait between them; the back-off wait comes before each new round
	// from the first. After a lost connection the client starts again
	// from the first URL, so a preferred node is returned to as soon as it
	// is back. A broker may send the client elsewhere (MQTT v5 server
	// redirection, 0x9C and 0x9D): the next attempt goes there at once;
	// see the README's "Past one broker" for the rules.
	// Schemes: ws:// and wss:// everywhere; mqtt://, tcp:// and mqtts://
	// natively (not in the browser). A WebSocket URL's path is used as
	// given ("/mqtt" for most brokers). Credentials do not belong in a URL:
	// use Username and Password, or Credentials, so they never appear in
	// a log.
	Brokers []string

	// ClientID identifies the client to the broker; two clients with one
	// ID push each other off. Defaults to "mqttgame-" and 12 random hex
	// digits, new for each Client.
	ClientID string

	// BrokerAssignsClientID sends an empty client identifier, so that the
	// broker assigns one (MQTT v5's Assigned Client Identifier). ClientID
	// returns it once connected, and reconnections send it, so a kept
	// session resumes. ClientID must then be empty. Defaults to false.
	BrokerAssignsClientID bool

	// Username and Password are sent in CONNECT when not empty. They are
	// never logged. Leave them empty when Credentials is set.
	Username string
	Password string

	// Credentials, if set, supplies fresh credentials before each
	// connection attempt, for brokers that take short-lived tokens (JWT
	// and the like): it is given the URL about to be dialled (after any
	// redirect). It runs on a goroutine of the client, never the game's;
	// ctx ends after ConnectTimeout, or when the client disconnects. An
	// error fails the attempt with a ConnectError matching ErrCredentials,
	// backed off from as a refusal. Username and Password must then be
	// empty. Defaults to nil: Username and Password, fixed.
	Credentials func(ctx context.Context, broker *url.URL) (Credentials, error)

	// KeepAlive is the longest silence before the client pings the broker;
	// a connection silent for 1.5 times it is considered dead. Rounded to
	// seconds. Defaults to 30s natively and 60s in the browser, where
	// background tabs throttle timers. A negative value turns it off.
	KeepAlive time.Duration

	// ResumeSession asks the broker, on the first connection, to resume a
	// session an earlier client with the same ClientID left (Clean Start
	// 0). Reconnections always try to resume. Defaults to false: start clean.
	ResumeSession bool

	// SessionExpiry is how long the broker keeps the session (subscriptions
	// and queued QoS 1/2 messages) after the connection ends. Rounded to
	// seconds. Defaults to 0: the session ends with the connection, and
	// the client restores its subscriptions itself after a reconnect.
	SessionExpiry time.Duration

	// Will is published by the broker if the connection ends abruptly.
	// Defaults to nil: no will.
	Will *Will

	// TLSConfig is used for wss:// and mqtts:// natively; nil means the
	// system's roots and the URL's host name. In the browser, the browser
	// checks certificates and this field is ignored.
	TLSConfig *tls.Config

	// ConnectTimeout bounds one connection attempt: dial, TLS, WebSocket
	// handshake and CONNACK. Defaults to 10s.
	ConnectTimeout time.Duration

	// AckTimeout bounds the wait for an acknowledgement. A SUBSCRIBE or
	// UNSUBSCRIBE not acknowledged in time fails with ErrTimeout and is not
	// sent again (a subscription is forgotten: Subscribe again to retry).
	// A QoS 1 or 2 message not acknowledged in time ends the connection,
	// since MQTT allows a resend only on a new one; it is sent again after
	// the reconnect, and fails with ErrTimeout when three connections in a
	// row did not acknowledge it. Defaults to 10s.
	AckTimeout time.Duration

	// ReconnectDelay is the wait after a failed attempt; it doubles (with
	// jitter) after each further one, and twice over after each connection
	// that ended before it was stable, up to MaxReconnectDelay. A
	// connection is stable once it has held for 30s and two keepalive
	// intervals (1 minute with the default keepalive); after losing one,
	// the client tries again at once. So a broker that accepts the client
	// and drops it within seconds sees a handful of attempts a minute, not
	// dozens. Defaults to 250ms.
	ReconnectDelay time.Duration

	// MaxReconnectDelay caps the wait between reconnection attempts.
	// Defaults to 30s.
	MaxReconnectDelay time.Duration

	// DataLoss is the mode for topics whose subscription does not choose
	// one. Defaults to LatestWins.
	DataLoss DataLoss

	// TopicQueueSize caps the messages waiting for one FIFO topic; when
	// full, the oldest waiting QoS 0 message is dropped and counted, and a
	// QoS 1 or 2 message is held unacknowledged until there is room.
	// Defaults to 64.
	TopicQueueSize int

	// MaxTopics caps the distinct topics the client keeps. Past it, the
	// topics idle longest (and without a TopicHandle) are forgotten; if
	// none can be, a new QoS 0 message is dropped and counted, and a QoS 1
	// or 2 message is held unacknowledged until there is room. Defaults
	// to 1024.
	MaxTopics int

	// MaxBufferedBytes caps the memory the client holds for the game, so
	// that a tab that stops calling Update, or another player sending
	// long topics or big properties, cannot grow it without bound. It
	// counts every byte held: the messages waiting to be shown, those
	// held unacknowledged, and the visible one of each topic, each with
	// its topic, properties (content type, response topic, correlation
	// data, user properties) and payload, plus 256 bytes per message
	// (1 KiB while its acknowledgement is withheld), and 1 KiB per topic
	// with its queue's slots. Past it, the topics idle longest (and
	// without a TopicHandle) are forgotten; a QoS 0 message that still
	// does not fit is dropped and counted, a QoS 1 or 2 message is held
	// unacknowledged and the client reads nothing more until the game
	// catches up. A message larger than the limit is let in when nothing
	// else waits. Defaults to 16 MiB.
	MaxBufferedBytes int

	// OutboxSize caps the publishes waiting to be sent or acknowledged.
	// Publish returns ErrOutboxFull past it. Defaults to 1024.
	OutboxSize int

	// MaxPacketSize is the largest packet the client accepts; it is
	// announced to the broker, and a larger incoming packet drops the
	// connection before it is read. Defaults to 1 MiB.
	MaxPacketSize int

	// TopicAliases is how many MQTT v5 topic aliases each side may use on
	// a connection, so that a topic sent many times costs two bytes
	// instead of its name: the broker may use up to this many in messages
	// to the client, and the client gives the first topics it publishes at
	// QoS 0 one each, up to this many and to the broker's own maximum.
	// Defaults to 0: none.
	TopicAliases int

	// EventQueueSize caps the events waiting for the next Update; past it,
	// events are dropped and counted in Stats.DroppedEvents. Defaults to 1024.
	EventQueueSize int

	// Logger receives the client's log lines (connection changes at Info,
	// failures at Warn, protocol detail at Debug). Defaults to discarding them.
	Logger *slog.Logger
}

func (o *Options) ensureDefaults() {
	if o.KeepAlive == 0 {
		o.KeepAlive = defaultKeepAlive
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 10 * time.Second
	}
	if o.ReconnectDelay <= 0 {
		o.ReconnectDelay = 250 * time.Millisecond
	}
	if o.MaxReconnectDelay <= 0 {
		o.MaxReconnectDelay = 30 * time.Second
	}
	if o.MaxReconnectDelay < o.ReconnectDelay {
		o.MaxReconnectDelay = o.ReconnectDelay
	}
	if o.DataLoss == DefaultDataLoss {
		o.DataLoss = LatestWins
	}
	if o.TopicQueueSize <= 0 {
		o.TopicQueueSize = 64
	}
	if o.MaxTopics <= 0 {
		o.MaxTopics = 1024
	}
	if o.MaxBufferedBytes <= 0 {
		o.MaxBufferedBytes = 16 << 20
	}
	if o.OutboxSize <= 0 {
		o.OutboxSize = 1024
	}
	if o.MaxPacketSize <= 0 {
		o.MaxPacketSize = 1 << 20
	}
	if o.EventQueueSize <= 0 {
		o.EventQueueSize = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// validate checks what ensureDefaults cannot fix.
func (o *Options) validate() error {
	if len(o.Brokers) == 0 {
		return &OptionError{Option: "Brokers", Reason: "no broker URL given"}
	}
	if len(o.ClientID) > MaxTopicLength {
		return &OptionError{Option: "ClientID", Reason: fmt.Sprintf("%d bytes long, over the limit of %d", len(o.ClientID), MaxTopicLength)}
	}
	if o.BrokerAssignsClientID && o.ClientID != "" {
		return &OptionError{Option: "ClientID", Reason: "must be empty when BrokerAssignsClientID is set"}
	}
	if len(o.Username) > MaxTopicLength {
		return &OptionError{Option: "Username", Reason: fmt.Sprintf("%d bytes long, over the limit of %d", len(o.Username), MaxTopicLength)}
	}
	if len(o.Password) > MaxTopicLength {
		return &OptionError{Option: "Password", Reason: fmt.Sprintf("%d bytes long, over the limit of %d", len(o.Password), MaxTopicLength)}
	}
	if o.Credentials != nil && (o.Username != "" || o.Password != "") {
		return &OptionError{Option: "Credentials", Reason: "set with Username or Password; the function supplies both"}
	}
	if o.KeepAlive > 65535*time.Second {
		return &OptionError{Option: "KeepAlive", Reason: fmt.Sprintf("%v is over the MQTT limit of 65535s", o.KeepAlive)}
	}
	if o.SessionExpiry < 0 || o.SessionExpiry > (1<<32-1)*time.Second {
		return &OptionError{Option: "SessionExpiry", Reason: fmt.Sprintf("%v is outside 0..4294967295s", o.SessionExpiry)}
	}
	if o.DataLoss > FIFO {
		return &OptionError{Option: "DataLoss", Reason: o.DataLoss.String() + " is not a mode"}
	}
	if o.TopicAliases < 0 || o.TopicAliases > 65535 {
		return &OptionError{Option: "TopicAliases", Reason: fmt.Sprintf("%d is outside 0..65535", o.TopicAliases)}
	}
	if o.MaxPacketSize > 1<<28 {
		return &OptionError{Option: "MaxPacketSize", Reason: fmt.Sprintf("%d is over the MQTT limit of %d", o.MaxPacketSize, 1<<28)}
	}
	if w := o.Will; w != nil {
		if err := ValidateTopic(w.Topic); err != nil {
			return &OptionError{Option: "Will.Topic", Reason: err.Error()}
		}
		if w.QoS > ExactlyOnce {
			return &OptionError{Option: "Will.QoS", Reason: fmt.Sprintf("%d is not 0, 1 or 2", w.QoS)}
		}
		if len(w.Payload) > MaxTopicLength {
			return &OptionError{Option: "Will.Payload", Reason: fmt.Sprintf("%d bytes long, over the limit of %d", len(w.Payload), MaxTopicLength)}
		}
		if w.Delay < 0 || w.Delay > (1<<32-1)*time.Second {
			return &OptionError{Option: "Will.Delay", Reason: fmt.Sprintf("%v is outside 0..4294967295s", w.Delay)}
		}
		if err := checkProperties(w.ContentType, "", nil, w.UserProperties); err != nil {
			return &OptionError{Option: "Will", Reason: err.Error()}
		}
	}
	return nil
}

// parseBrokerURL checks one broker URL and fills in its default port.
func parseBrokerURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the input; keep only its reason.
		var ue *url.Error
		reason := err.Error()
		if errors.As(err, &ue) {
			reason = ue.Err.Error()
		}
		return nil, &OptionError{Option: "Brokers", Value: redact(raw), Reason: reason}
	}
	if u.User != nil {
		return nil, &OptionError{Option: "Brokers", Value: u.Redacted(), Reason: "credentials in the URL are refused so they never reach a log; use Options.Username and Options.Password"}
	}
	scheme := strings.ToLower(u.Scheme)
	port, known := defaultPorts[scheme]
	switch {
	case scheme == "":
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: "no scheme; use ws://, wss://" + nativeSchemeHint}
	case !known:
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: fmt.Sprintf("unknown scheme %q; use ws://, wss://%s", u.Scheme, nativeSchemeHint)}
	case !schemeSupported(scheme):
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: fmt.Sprintf("scheme %q is not available in the browser, which only speaks WebSocket; use ws:// or wss://", u.Scheme)}
	case u.Hostname() == "":
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: "no host"}
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, &OptionError{Option: "Brokers", Value: raw, Reason: fmt.Sprintf("port %q is not a number in 1..65535", p)}
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: "empty port"}
	} else {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Scheme = scheme
	if (scheme == "mqtt" || scheme == "tcp" || scheme == "mqtts") && u.Path != "" && u.Path != "/" {
		return nil, &OptionError{Option: "Brokers", Value: raw, Reason: "a path only makes sense for ws:// and wss://"}
	}
	if scheme == "ws" || scheme == "wss" {
		if u.Path == "" {
			u.Path = "/"
		}
	}
	return u, nil
}

var defaultPorts = map[string]string{
	"ws":    "80",
	"wss":   "443",
	"mqtt":  "1883",
	"tcp":   "1883",
	"mqtts": "8883",
}

// redact removes anything that looks like credentials from a URL that
// url.Parse could not read.
func redact(raw string) string {
	if at := strings.LastIndexByte(raw, '@'); at >= 0 {
		if sep := strings.Index(raw, "://"); sep >= 0 && sep < at {
			return raw[:sep+3] + "xxxxx@" + raw[at+1:]
		}
		return "xxxxx@" + raw[at+1:]
	}
	return raw
}

// warnPlainText logs a warning for an unencrypted connection to anything
// but this machine: whatever it carries, the password included, can be
// read on the way.
func warnPlainText(log *slog.Logger, u *url.URL) {
	if u.Scheme != "ws" && u.Scheme != "mqtt" && u.Scheme != "tcp" {
		return
	}
	host := u.Hostname()
	if host == "localhost" {
		return
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return
	}
	log.Warn("mqttgame: unencrypted connection; use wss:// or mqtts:// beyond this machine", "broker", u.String())
}

// Package overlay is the logic of a small connection status a game keeps
// on screen: connected or not, to which broker, messages in and out per
// second, messages dropped, and the last error in plain words.
//
// It draws nothing and does not import Ebitengine: a Monitor turns the
// client's counters into a Status once per tick, and Status.AppendLines
// into text. The subpackage ebitenoverlay draws it with Ebitengine; any
// other engine can draw the lines itself.
package overlay

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// Status is what the overlay shows, as of one tick.
type Status struct {
	Connected bool
	// Connecting is true while not connected, unless the game
	// disconnected on purpose: the client is trying.
	Connecting bool
	Broker     string // the broker URL connected to or tried last
	// InPerSec and OutPerSec are the messages received and sent per
	// second, over the last whole second.
	InPerSec, OutPerSec float64
	Dropped             uint64 // received messages dropped so far (Stats.Dropped)
	// Err is the last error in plain words, and ErrAt when it happened;
	// it stays after the connection recovers, as a record.
	Err   string
	ErrAt time.Time
	// Note is a line the game adds, such as "hosting the broker".
	Note string
}

// Options configures a Monitor.
type Options struct {
	// Note is shown under the status. Defaults to none.
	Note string
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
}

// Monitor follows one client. Its methods must be called from the
// goroutine that calls the client's Update.
type Monitor struct {
	c       *mqttgame.Client
	now     func() time.Time
	status  Status
	stopped bool // the game disconnected on purpose
	lastErr error
	events  []mqttgame.Event

	windowStart time.Time
	windowIn    uint64
	windowOut   uint64
}

// New returns a monitor of c. opts may be nil.
func New(c *mqttgame.Client, opts *Options) *Monitor {
	m := &Monitor{c: c, now: time.Now}
	if opts != nil {
		if opts.Now != nil {
			m.now = opts.Now
		}
		m.status.Note = opts.Note
	}
	return m
}

// SetNote changes the game's line.
func (m *Monitor) SetNote(note string) { m.status.Note = note }

// Update reads the client's state. Call it every tick, after the client's
// Update.
func (m *Monitor) Update() {
	now := m.now()
	st := m.c.Stats()
	s := &m.status
	s.Connected = m.c.IsConnected()
	s.Broker = m.c.Broker()
	s.Dropped = st.Dropped()
	m.events = m.c.AppendEvents(m.events[:0])
	for _, e := range m.events {
		switch e.Kind {
		case mqttgame.EventDisconnected:
			m.stopped = true
		case mqttgame.EventConnected, mqttgame.EventConnectFailed, mqttgame.EventConnectionLost:
			m.stopped = false
		}
	}
	s.Connecting = !s.Connected && !m.stopped
	// The client keeps its error until the game clears it; a new one is
	// a different value.
	if err := m.c.Err(); err != nil && !same(err, m.lastErr) {
		s.Err, s.ErrAt = Describe(err), now
	}
	m.lastErr = m.c.Err()
	if !m.windowStart.IsZero() {
		if d := now.Sub(m.windowStart); d >= time.Second {
			s.InPerSec = float64(st.Received-m.windowIn) / d.Seconds()
			s.OutPerSec = float64(st.Sent-m.windowOut) / d.Seconds()
		} else {
			return
		}
	}
	m.windowStart, m.windowIn, m.windowOut = now, st.Received, st.Sent
}

// same reports whether a and b are the same error value, without the
// panic == gives on an error type that cannot be compared.
func same(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	if !reflect.TypeOf(a).Comparable() || !reflect.TypeOf(b).Comparable() {
		return false
	}
	return a == b
}

// Status returns the status as of the last Update.
func (m *Monitor) Status() Status { return m.status }

// AppendLines appends the status as short lines of text to dst and
// returns it: the connection, the traffic, then the last error and the
// note when there are some. now is used to say how long ago the error was.
func (s Status) AppendLines(dst []string, now time.Time) []string {
	switch {
	case s.Connected:
		dst = append(dst, "connected to "+s.Broker)
	case s.Connecting:
		dst = append(dst, "reconnecting to "+s.Broker+"…")
	default:
		dst = append(dst, "not connected ("+s.Broker+")")
	}
	dst = append(dst, fmt.Sprintf("in %s/s  out %s/s  dropped %d", rate(s.InPerSec), rate(s.OutPerSec), s.Dropped))
	if s.Err != "" {
		dst = append(dst, "last error, "+ago(now.Sub(s.ErrAt))+": "+s.Err)
	}
	if s.Note != "" {
		dst = append(dst, s.Note)
	}
	return dst
}

func rate(r float64) string {
	if r < 10 && r != float64(int(r)) {
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

func ago(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d/time.Minute))
	}
	return fmt.Sprintf("%dh ago", int(d/time.Hour))
}

// Describe says in plain words what an error of the client means for the
// player, as "no broker answers at that address" for ErrUnreachable.
// It returns "" for nil.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	for _, w := range words {
		if errors.Is(err, w.err) {
			return w.text
		}
	}
	var be *mqttgame.BrokerError
	if errors.As(err, &be) {
		return "the broker refused: " + be.Code.String()
	}
	if errors.Is(err, mqttgame.ErrConnectionLost) {
		return "the connection to the broker was lost"
	}
	return strings.TrimPrefix(err.Error(), "mqttgame: ")
}

// words are the errors a player may meet, most specific first: a lost
// connection carries the broker's reason when it sent one.
var words = []struct {
	err  error
	text string
}{
	{mqttgame.ReasonServerShuttingDown, "the broker shut down"},
	{mqttgame.ReasonSessionTakenOver, "another window joined with the same client ID and took over"},
	{mqttgame.ReasonKeepAliveTimeout, "the broker stopped hearing from this game"},
	{mqttgame.ReasonBadUsernameOrPassword, "wrong user name or password"},
	{mqttgame.ReasonNotAuthorized, "the broker does not allow this"},
	{mqttgame.ReasonServerUnavailable, "the broker is unavailable"},
	{mqttgame.ReasonServerBusy, "the broker is busy"},
	{mqttgame.ReasonBanned, "the broker has banned this client"},
	{mqttgame.ErrTimeout, "the broker took too long to answer"},
	{mqttgame.ErrNotMQTT, "the server at that address is not an MQTT v5 broker"},
	{mqttgame.ErrNoConnack, "the server at that address hung up without answering"},
	{mqttgame.ErrUnreachable, "no broker answers at that address"},
	{mqttgame.ErrOutboxFull, "too many messages waiting to be sent"},
	{mqttgame.ErrPayloadTooLarge, "a message was too large for the broker"},
	{mqttgame.ErrDropsConnection, "the broker drops the connection whenever one message is sent"},
	{mqttgame.ErrProtocolViolation, "the broker broke the MQTT protocol"},
	{mqttgame.ErrMalformedPacket, "the broker sent something unreadable"},
	{mqttgame.ErrPacketTooLarge, "the broker sent a message too large to accept"},
}

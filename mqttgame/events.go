package mqttgame

import (
	"fmt"
	"sync"
)

// EventKind says what an Event reports.
type EventKind uint8

// The events a tick can show.
const (
	// EventConnected: a connection to the broker at URL is up.
	// SessionPresent tells whether the broker resumed an earlier session.
	EventConnected EventKind = iota + 1
	// EventConnectFailed: an attempt to connect to URL failed with Err
	// (a *ConnectError); the client tries again after a delay.
	EventConnectFailed
	// EventConnectionLost: the connection ended without the game asking,
	// with Err (a *LostError); the client reconnects by itself unless
	// another client took the session over.
	EventConnectionLost
	// EventDisconnected: Disconnect or DisconnectWithWill finished.
	EventDisconnected
	// EventSubscribed: the broker granted the subscription to Topic at QoS.
	EventSubscribed
	// EventSubscribeFailed: the subscription to Topic failed and the
	// client forgot it. Err says why: a *BrokerError with the broker's
	// reason code; a *LimitError when the filter cannot fit the broker's
	// maximum packet size; ErrTimeout when no SUBACK came within
	// Options.AckTimeout; ErrDropsConnection when the broker ended the
	// connection each time it was sent.
	EventSubscribeFailed
	// EventUnsubscribed: the broker confirmed the unsubscription from Topic.
	EventUnsubscribed
	// EventUnsubscribeFailed: the unsubscription from Topic failed, with
	// Err as for EventSubscribeFailed (ErrTimeout: no UNSUBACK). The broker
	// may still send the filter's messages.
	EventUnsubscribeFailed
	// EventDelivered: the broker acknowledged the QoS 1 or 2 message ID.
	EventDelivered
	// EventPublishFailed: the message ID to Topic was not delivered: Err
	// says why (a *BrokerError with the broker's reason code, a
	// *LimitError when it broke a limit the broker set in CONNACK,
	// ErrDropsConnection, or ErrTimeout when three connections in a row
	// did not acknowledge it within Options.AckTimeout: the broker may or
	// may not have it).
	EventPublishFailed
)

var eventNames = [...]string{
	EventConnected:         "connected",
	EventConnectFailed:     "connect failed",
	EventConnectionLost:    "connection lost",
	EventDisconnected:      "disconnected",
	EventSubscribed:        "subscribed",
	EventSubscribeFailed:   "subscribe failed",
	EventUnsubscribed:      "unsubscribed",
	EventUnsubscribeFailed: "unsubscribe failed",
	EventDelivered:         "delivered",
	EventPublishFailed:     "publish failed",
}

// String names the kind, as in "connection lost".
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", k)
}

// Event is something that happened to the connection, a subscription or
// a publish. Events become visible in the tick after they happen, in the
// order they happened; see Client.AppendEvents.
type Event struct {
	Kind           EventKind
	Topic          string    // the topic or filter concerned
	ID             PublishID // the publish concerned
	QoS            QoS       // EventSubscribed: the QoS the broker granted
	URL            string    // connection events: the broker
	SessionPresent bool      // EventConnected: the broker resumed the session
	Err            error     // failures: what went wrong
}

// String describes the event in one line, for logs.
func (e Event) String() string {
	s := e.Kind.String()
	if e.URL != "" {
		s += " " + e.URL
	}
	if e.Topic != "" {
		s += " " + quoteShort(e.Topic)
	}
	if e.ID != 0 {
		s += fmt.Sprintf(" #%d", e.ID)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// events collects events from the network goroutines until the next tick.
type events struct {
	mu      sync.Mutex
	pending []Event
	limit   int
	dropped uint64
	arrived arrival // set by emit and emitAlways
}

// newEvents keeps up to limit events a tick (connection events always),
// and sets arrived at each.
func newEvents(limit int, arrived arrival) *events {
	return &events{limit: limit, arrived: arrived}
}

func (q *events) emit(e Event) {
	q.mu.Lock()
	q.arrived.set()
	if len(q.pending) < q.limit {
		q.pending = append(q.pending, e)
	} else {
		q.dropped++
	}
	q.mu.Unlock()
}

// swap hands the pending events over for a tick, taking back the slice of
// the previous tick to reuse.
func (q *events) swap(old []Event) ([]Event, uint64) {
	clear(old)
	q.mu.Lock()
	got := q.pending
	q.pending = old[:0]
	dropped := q.dropped
	q.mu.Unlock()
	return got, dropped
}

// emitAlways queues a connection event even past the limit: the tick
// derives IsConnected from them, so none may be lost.
func (q *events) emitAlways(e Event) {
	q.mu.Lock()
	q.arrived.set()
	q.pending = append(q.pending, e)
	q.mu.Unlock()
}

package mqttgame

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// PublishID names a message handed to Publish, so the game can follow its
// delivery in the events of later ticks. IDs count up from 1.
type PublishID uint64

// outMsg is one message in the outbox.
type outMsg struct {
	id       PublishID
	msg      Message
	packetID uint16    // while in paho's session
	released bool      // QoS 2: PUBREC received, the broker owns it
	sends    int       // times handed to paho
	sentConn uint64    // the connection it was last sent on
	sentAt   time.Time // when it was last sent
	strikes  int       // consecutive connections lost right after it was sent
	timeouts int       // connections on which it went unacknowledged for AckTimeout
	overConn uint64    // the connection it last went unacknowledged on
}

// maxStrikes is how many times the broker may end the connection right
// after a message was sent, saying a packet was at fault, before the
// client stops sending it. A broker that just closes gets maxSilentStrikes:
// a network fault looks the same, and rarely hits right after the same
// message five times in a row.
const (
	maxStrikes       = 3
	maxSilentStrikes = 5
)

// limits are what the broker's CONNACK allows.
type limits struct {
	maxPacket int // bytes; 0 means MQTT's own limit
	maxQoS    QoS
	noRetain  bool
}

// outbox holds the publishes the game made until the broker has them.
// Its sender (send), one goroutine per connection, takes messages from it
// in order and hands them to paho; paho's session (through session.go)
// tells it what became of each QoS 1 and 2 message. A message counts
// against the capacity until it is delivered or fails, so the outbox is
// also the in-flight window.
type outbox struct {
	mu       sync.Mutex
	queue    []*outMsg          // waiting for the sender, oldest first, from head
	head     int                //
	inflight map[uint16]*outMsg // in paho's session, by packet identifier
	size     int                // queued plus in flight
	capacity int                //
	nextID   PublishID          //
	waitCh   chan struct{}      // closed when the queue gets a message or opens
	paused   bool               // closed until the connection's subscriptions are sent
	sending  *outMsg            // the message the sender is handing to paho
	stored   bool               // paho put sending in its session
	limits   limits             //
	changed  chan struct{}      // signalled when size drops
	emit     func(Event)        // reports outcomes
	conn     uint64             // connections so far
	suspect  *outMsg            // the message struck last
	counts   struct{ sent, delivered, failed uint64 }
}

func newOutbox(capacity int, emit func(Event)) *outbox {
	return &outbox{
		inflight: make(map[uint16]*outMsg),
		capacity: capacity,
		limits:   limits{maxQoS: ExactlyOnce},
		paused:   true,
		changed:  make(chan struct{}, 1),
		emit:     emit,
	}
}

// add queues m, which the caller has validated and copied.
func (o *outbox) add(m Message) (PublishID, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.size >= o.capacity {
		return 0, ErrOutboxFull
	}
	if err := o.limits.check(&m); err != nil {
		return 0, err
	}
	o.nextID++
	o.queue = append(o.queue, &outMsg{id: o.nextID, msg: m})
	o.size++
	o.wakeLocked()
	return o.nextID, nil
}

// wakeLocked lets the sender look at the queue again.
func (o *outbox) wakeLocked() {
	if o.waitCh != nil && o.sendable() {
		close(o.waitCh)
		o.waitCh = nil
	}
}

// pause holds publishes back: from a connection loss until the next
// connection has its subscriptions in place, so a message queued while
// disconnected cannot overtake the subscription that would receive it.
func (o *outbox) pause() {
	o.mu.Lock()
	o.paused = true
	o.mu.Unlock()
}

// resume lets publishes go.
func (o *outbox) resume() {
	o.mu.Lock()
	o.paused = false
	o.wakeLocked()
	o.mu.Unlock()
}

// sendable reports whether the sender has work. Called with mu held.
func (o *outbox) sendable() bool {
	return !o.paused && o.head < len(o.queue)
}

// check reports a message the broker would refuse, so it never enters
// paho's session: a refused QoS 1 message there would be sent again after
// every reconnect, and the broker would drop every connection.
func (l limits) check(m *Message) error {
	if l.maxQoS < m.QoS {
		return &LimitError{Topic: m.Topic, Limit: ErrInvalidQoS, What: "the QoS", Got: int(m.QoS), Max: int(l.maxQoS)}
	}
	if l.noRetain && m.Retain {
		return &LimitError{Topic: m.Topic, Limit: ErrRetainUnavailable, What: "retain", Got: 1, Max: 0}
	}
	size, max := publishSize(m), maxRemainingLength
	if l.maxPacket > 0 {
		max = l.maxPacket
	}
	if size > max {
		return &LimitError{Topic: m.Topic, Limit: ErrPayloadTooLarge, What: "the packet size", Got: size, Max: max}
	}
	return nil
}

// connected records a new connection and the broker's CONNACK limits;
// the sender fails the queued messages that break them.
func (o *outbox) connected(l limits) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limits = l
	o.conn++
}

// resent is called when paho sends a stored message again on a new
// connection (the broker kept the session).
func (o *outbox) resent(packetID uint16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := o.inflight[packetID]; m != nil {
		m.sends++
		m.sentConn = o.conn + 1 // paho resends before the connection is reported up
		m.sentAt = time.Now()
	}
}

// send drains the queue onto cli, the connection up now, one message at
// a time in order, until ctx ends with the connection. It is the only
// goroutine that publishes. A QoS 0 message is done once written (by
// writeAtMostOnce, past paho); a QoS 1 or 2 message, once paho has stored
// it in the session, which sends it again on the next connection if need
// be and reports its outcome.
// QoS 0 messages queued back to back share writes on conn: each but the
// last is held for the next, and what is held is flushed before the
// sender waits.
func (o *outbox) send(ctx context.Context, cli *paho.Client, conn gatherer, writeAtMostOnce func(*packets.Publish) error) {
	var (
		pkt   packets.Publish
		props packets.Properties
	)
	for {
		m, more := o.next(ctx, conn.flush)
		if m == nil {
			return
		}
		toPacket(&m.msg, &pkt, &props)
		var err error
		if m.msg.QoS == AtMostOnce {
			conn.holdNext(more)
			err = writeAtMostOnce(&pkt)
			conn.holdNext(false)
		} else {
			// paho may wait for a place in the broker's receive maximum,
			// which the acknowledgement of a held message would free.
			conn.flush()
			_, err = cli.PublishWithOptions(ctx, paho.PublishFromPacketPublish(&pkt), paho.PublishOptions{Method: paho.PublishMethod_AsyncSend})
		}
		pkt, props = packets.Publish{}, packets.Properties{}
		if o.sent(m, err) || errors.Is(err, context.DeadlineExceeded) {
			// Done, or paho waited AckTimeout in vain for a place in the
			// broker's receive maximum: the message is first in line still.
			continue
		}
		// The connection is going (its end ends ctx), or paho failed
		// otherwise: the message waits, first in line.
		conn.flush()
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// gatherer is a connection that can hold a packet back to share a write
// with the next (packetConn).
type gatherer interface {
	holdNext(bool)
	flush()
}

// next waits until a message may go and returns it, and whether another
// may go right after it; nil when ctx ends. Messages the broker's limits
// refuse fail here. idle, if not nil, is called before it waits.
func (o *outbox) next(ctx context.Context, idle func()) (m *outMsg, more bool) {
	for {
		o.mu.Lock()
		for o.sendable() {
			m := o.queue[o.head]
			if err := o.limits.check(&m.msg); err != nil {
				o.popLocked()
				o.failLocked(m, err)
				continue
			}
			o.sending, o.stored = m, false
			more := o.head+1 < len(o.queue)
			o.mu.Unlock()
			return m, more
		}
		if o.waitCh == nil {
			o.waitCh = make(chan struct{})
		}
		wait := o.waitCh
		o.mu.Unlock()
		if idle != nil {
			idle()
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// sent records what paho's publish of m returned, and reports whether it
// is done with: false when m was not sent and waits, first in line.
func (o *outbox) sent(m *outMsg, err error) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	stored := o.stored
	o.sending, o.stored = nil, false
	switch {
	case stored:
		// In paho's session, written or not (ErrNetworkErrorAfterStored):
		// the session sends it again and reports its outcome.
	case m.msg.QoS == AtMostOnce && err == nil:
		o.removeLocked(m)
		o.sentAtMostOnceLocked(m)
	case errors.Is(err, paho.ErrInvalidArguments):
		// What the broker's CONNACK forbids; limits.check lets none by.
		o.removeLocked(m)
		o.failLocked(m, fmt.Errorf("mqttgame: the MQTT library refused the publish: %w", err))
	case err == nil:
		o.removeLocked(m)
		o.failLocked(m, errors.New("mqttgame: the MQTT library refused the publish"))
	default:
		return false
	}
	return true
}

// removeLocked takes m out of the queue: it is first, unless the session
// put messages back before it meanwhile.
func (o *outbox) removeLocked(m *outMsg) {
	if o.head < len(o.queue) && o.queue[o.head] == m {
		o.popLocked()
		return
	}
	if i := slices.Index(o.queue[o.head:], m); i >= 0 {
		o.queue = slices.Delete(o.queue, o.head+i, o.head+i+1)
	}
}

// sentAtMostOnceLocked records a QoS 0 message written to the connection:
// that is all its delivery.
func (o *outbox) sentAtMostOnceLocked(m *outMsg) {
	m.sends++
	m.sentConn, m.sentAt = o.conn, time.Now()
	o.counts.sent++
	o.counts.delivered++
	o.doneLocked()
}

// popLocked removes the head of the queue.
func (o *outbox) popLocked() {
	o.queue[o.head] = nil
	o.head++
	if o.head == len(o.queue) {
		o.queue, o.head = o.queue[:0], 0
	} else if o.head > 64 && o.head > len(o.queue)/2 {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue, o.head = o.queue[:n], 0
	}
}

// doneLocked takes m out of the outbox.
func (o *outbox) doneLocked() {
	o.size--
	select {
	case o.changed <- struct{}{}:
	default:
	}
}

func (o *outbox) failLocked(m *outMsg, err error) {
	o.counts.failed++
	o.doneLocked()
	o.emit(Event{Kind: EventPublishFailed, Topic: m.msg.Topic, ID: m.id, Err: err})
}

// storedAs is called by the session when paho has put the message the
// sender is handing it in its session state under packetID.
func (o *outbox) storedAs(packetID uint16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.sending
	if m == nil || o.stored {
		return
	}
	o.stored = true
	m.packetID = packetID
	m.sends++
	m.sentConn, m.sentAt = o.conn, time.Now()
	o.inflight[packetID] = m
	if o.head < len(o.queue) && o.queue[o.head] == m {
		o.popLocked()
	}
	o.counts.sent++
}

// acked is called by the session when the broker answered a QoS 1 or 2
// publish for good: PUBACK, PUBCOMP, or a PUBREC with a failure code.
func (o *outbox) acked(packetID uint16, code ReasonCode, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.inflight[packetID]
	if m == nil {
		return
	}
	delete(o.inflight, packetID)
	if code == ReasonPacketIDNotFound && m.released {
		// The broker confirmed the message with PUBREC, then lost or
		// finished the exchange before our PUBREL: it has the message.
		code = ReasonSuccess
	}
	if code.IsFailure() {
		o.failLocked(m, &BrokerError{Op: "publish", Topic: m.msg.Topic, Code: code, Reason: reason})
		return
	}
	o.counts.delivered++
	o.doneLocked()
	o.emit(Event{Kind: EventDelivered, Topic: m.msg.Topic, ID: m.id})
}

// isResend reports whether the publish in flight under packetID has been
// sent more than once.
func (o *outbox) isResend(packetID uint16) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.inflight[packetID]
	return m != nil && m.sends > 1
}

// released is called by the session when a QoS 2 publish got its PUBREC.
func (o *outbox) released(packetID uint16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := o.inflight[packetID]; m != nil {
		m.released = true
		m.sentAt = time.Now() // the PUBREL, which awaits PUBCOMP
	}
}

// maxAckTimeouts is how many connections may let a QoS 1 or 2 message go
// unacknowledged for AckTimeout before the client stops sending it.
const maxAckTimeouts = 3

// overdue checks the oldest message in flight on the current connection:
// if the broker has not acknowledged it (PUBACK, PUBREC, or PUBCOMP after
// PUBREL) within timeout, that connection has failed it. MQTT v5 forbids
// sending it again on the same connection, so the caller ends the
// connection and paho resends it on the next one (or the outbox, if the
// broker lost the session). On the limit-th connection that fails it,
// the message fails with ErrTimeout instead: unconfirmed, which the
// broker may or may not have. It returns the message and whether it
// failed, or nil.
func (o *outbox) overdue(timeout time.Duration, limit int) (m *outMsg, failed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, x := range o.inflight {
		if x.sentConn == o.conn && (m == nil || x.id < m.id) {
			m = x
		}
	}
	if m == nil || time.Since(m.sentAt) < timeout || m.overConn == o.conn {
		return nil, false
	}
	m.overConn = o.conn
	m.timeouts++
	if m.timeouts < limit {
		return m, false
	}
	delete(o.inflight, m.packetID)
	o.failLocked(m, fmt.Errorf("%w: no acknowledgement of the message within %v, on %d connections", ErrTimeout, timeout, m.timeouts))
	return m, true
}

// sessionLost is called when paho drops its session state (the broker
// started a new session, or the old one ended with the connection). The
// broker has not got the unacknowledged messages, so they go back to the
// front of the queue in their first order; a QoS 2 message the broker
// already confirmed with PUBREC counts as delivered.
func (o *outbox) sessionLost() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.inflight) == 0 {
		return
	}
	var again []*outMsg
	for id, m := range o.inflight {
		delete(o.inflight, id)
		m.packetID = 0
		if m.released {
			o.counts.delivered++
			o.doneLocked()
			o.emit(Event{Kind: EventDelivered, Topic: m.msg.Topic, ID: m.id})
			continue
		}
		again = append(again, m)
	}
	slices.SortFunc(again, func(a, b *outMsg) int {
		if a.id < b.id {
			return -1
		}
		return 1
	})
	o.queue = append(again, o.queue[o.head:]...)
	o.head = 0
	o.wakeLocked()
}

// strike is called when a connection ended soon after it came up. If the
// oldest unacknowledged message was sent on it within the last second,
// that message may be the cause: a broker drops the connection each time
// it gets a message over a limit it did not announce, while a network
// fault hits at random and almost never right after the same message
// again. When the same message is the suspect on limit connections in a
// row, it fails, so it cannot cost a connection forever. It returns the
// suspect and how many times in a row it has been one, or nil.
func (o *outbox) strike(limit int) (suspect *outMsg, strikes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	suspect = o.suspectLocked()
	if suspect == nil {
		o.suspect = nil
		return nil, 0
	}
	if suspect != o.suspect {
		suspect.strikes = 0
	}
	o.suspect = suspect
	suspect.strikes++
	if suspect.strikes < limit {
		return suspect, suspect.strikes
	}
	if suspect.packetID != 0 && o.inflight[suspect.packetID] == suspect {
		delete(o.inflight, suspect.packetID)
	} else if o.head < len(o.queue) && o.queue[o.head] == suspect {
		o.popLocked()
	}
	o.failLocked(suspect, fmt.Errorf("%w (%d times)", ErrDropsConnection, suspect.strikes))
	return suspect, suspect.strikes
}

// suspectSince reports when the message strike would blame was sent, if
// there is one.
func (o *outbox) suspectSince() (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m := o.suspectLocked(); m != nil {
		return m.sentAt, true
	}
	return time.Time{}, false
}

// noStrike records a lost connection that strike does not blame on a
// message: the next strike starts a new count.
func (o *outbox) noStrike() {
	o.mu.Lock()
	o.suspect = nil
	o.mu.Unlock()
}

// suspectLocked returns the oldest unacknowledged message if it was sent
// on the current connection within the last second, or nil.
func (o *outbox) suspectLocked() (suspect *outMsg) {
	for _, m := range o.inflight {
		// A QoS 2 message the broker confirmed with PUBREC is not it.
		if !m.released && (suspect == nil || m.id < suspect.id) {
			suspect = m
		}
	}
	if o.head < len(o.queue) {
		// Only a message put back at the front can be older.
		if m := o.queue[o.head]; m.sends > 0 && (suspect == nil || m.id < suspect.id) {
			suspect = m
		}
	}
	if suspect == nil || suspect.sentConn != o.conn || time.Since(suspect.sentAt) > time.Second {
		return nil
	}
	return suspect
}

// idle reports whether nothing is waiting or in flight.
func (o *outbox) idle() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.size == 0
}

// outboxCounts are the outbox's totals and sizes, for the tick.
type outboxCounts struct {
	sent, delivered, failed uint64
	queued, inflight        int
}

// counters returns the outbox's counts now.
func (o *outbox) counters() outboxCounts {
	o.mu.Lock()
	defer o.mu.Unlock()
	return outboxCounts{sent: o.counts.sent, delivered: o.counts.delivered, failed: o.counts.failed,
		queued: len(o.queue) - o.head, inflight: len(o.inflight)}
}

package mqttgame

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session"
)

// RetainHandling says when the broker sends the retained messages that
// match a new subscription.
type RetainHandling uint8

const (
	// SendRetained sends them at every subscribe (MQTT's default).
	SendRetained RetainHandling = 0
	// SendRetainedIfNew sends them only if the subscription did not exist.
	SendRetainedIfNew RetainHandling = 1
	// DontSendRetained never sends them.
	DontSendRetained RetainHandling = 2
)

// SubscribeOptions are a subscription's MQTT v5 options and the data-loss
// mode of the messages it brings. The zero value subscribes at QoS 0 in
// the client's default mode.
type SubscribeOptions struct {
	// QoS is the highest QoS the broker may use to send the messages.
	// Defaults to AtMostOnce.
	QoS QoS
	// DataLoss is the mode for the topics this filter matches. Defaults
	// to DefaultDataLoss: Options.DataLoss.
	DataLoss DataLoss
	// NoLocal: the broker does not send back the client's own messages.
	// Defaults to false: it does.
	NoLocal bool
	// RetainAsPublished: the broker keeps the retain flag as published
	// instead of clearing it on live messages. Defaults to false: only
	// the retained messages sent on subscribing have it set.
	RetainAsPublished bool
	// RetainHandling: when retained messages are sent. When the client
	// restores subscriptions after a reconnect, SendRetained is sent as
	// SendRetainedIfNew, so a resumed session does not repeat them.
	// Defaults to SendRetained: on every subscribe.
	RetainHandling RetainHandling
	// SubscriptionID, from 1 to 268435455, comes back in Message.SubscriptionID
	// of the messages this subscription brings. Defaults to 0: none.
	SubscriptionID int
	// UserProperties are sent with the SUBSCRIBE packet. Defaults to
	// nil: none.
	UserProperties []UserProperty
}

func (o *SubscribeOptions) check() error {
	switch {
	case o.QoS > ExactlyOnce:
		return fmt.Errorf("%w: %d is not 0, 1 or 2", ErrInvalidQoS, o.QoS)
	case o.DataLoss > FIFO:
		return fmt.Errorf("mqttgame: %v is not a data-loss mode", o.DataLoss)
	case o.RetainHandling > DontSendRetained:
		return fmt.Errorf("mqttgame: retain handling %d is not 0, 1 or 2", o.RetainHandling)
	case o.SubscriptionID < 0 || o.SubscriptionID > maxRemainingLength:
		return fmt.Errorf("mqttgame: subscription identifier %d is outside 1..%d", o.SubscriptionID, maxRemainingLength)
	}
	return checkProperties("", "", nil, o.UserProperties)
}

// subscription is one filter the game subscribed to.
type subscription struct {
	filter  string
	opts    SubscribeOptions
	gen     uint64 // which Subscribe call set opts
	granted bool   // granted at least once since that call
}

// subOp is a SUBSCRIBE or UNSUBSCRIBE for one filter, to send.
type subOp struct {
	filter string
	sub    *subscription // nil: unsubscribe
	opts   SubscribeOptions
	gen    uint64 // which Subscribe or Unsubscribe call asked for it
	alone  bool   // sent in a packet of its own (see strike)
}

// request is a SUBSCRIBE or UNSUBSCRIBE sent and not answered yet.
type request struct {
	ops  []subOp
	conn uint64    // the connection it went out on
	at   time.Time // when
}

// subscriptions is the set of filters the game wants. Changes mark
// filters dirty; a goroutine per connection sends what is dirty while
// the connection is up, and marks everything dirty again after each
// reconnect, so subscriptions survive a broker that lost the session.
//
// Every Subscribe and Unsubscribe ends in an event, unless a later call
// for the same filter replaced it first: the broker's answer,
// a LimitError for a filter that can never fit the broker's maximum
// packet size, ErrTimeout when no acknowledgement came within AckTimeout,
// or ErrDropsConnection when the broker ended the connection each time
// the request was sent (see strike).
type subscriptions struct {
	mu         sync.Mutex
	table      map[string]*subscription
	order      []*subscription   // in order of first subscribe
	dirty      []string          // filters to send, in order
	isDirty    map[string]bool   //
	unsubGen   map[string]uint64 // filters to unsubscribe from, by the Unsubscribe call that asked
	gen        uint64            //
	isUp       bool              // connected
	conns      uint64            // connections so far
	maxPacket  int               // the broker's maximum packet size; 0: MQTT's own
	flight     request           // the request awaiting its acknowledgement, if any
	strikes    map[string]int    // connections lost in a row right after a request for the filter
	alone      map[string]bool   // filters sent one per packet since a strike
	wake       chan struct{}     // signalled when there is work
	rules      func([]modeRule)  //
	hold       func()            // called when a subscription changes: publishes wait until it is sent
	ready      func()            // called when a connection has every subscription sent
	emit       func(Event)       //
	ackTimeout time.Duration     //

	conn    context.Context // ends with the connection the operations are for
	connEnd context.CancelFunc

	features atomic.Pointer[brokerFeatures] // of the connection up, or the last one; see features.go
}

func newSubscriptions(rules func([]modeRule), hold, ready func(), emit func(Event), ackTimeout time.Duration) *subscriptions {
	return &subscriptions{
		table:      make(map[string]*subscription),
		isDirty:    make(map[string]bool),
		unsubGen:   make(map[string]uint64),
		strikes:    make(map[string]int),
		alone:      make(map[string]bool),
		wake:       make(chan struct{}, 1),
		rules:      rules,
		hold:       hold,
		ready:      ready,
		emit:       emit,
		ackTimeout: ackTimeout,
	}
}

// markLocked queues filter's change for the broker. Publishes wait until
// it is sent, so that one the game makes after Subscribe cannot overtake
// the subscription that would receive it.
func (s *subscriptions) markLocked(filter string) {
	s.hold()
	if !s.isDirty[filter] {
		s.isDirty[filter] = true
		s.dirty = append(s.dirty, filter)
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// unmarkLocked takes filter off the list to send.
func (s *subscriptions) unmarkLocked(filter string) {
	if s.isDirty[filter] {
		delete(s.isDirty, filter)
		if i := slices.Index(s.dirty, filter); i >= 0 {
			s.dirty = slices.Delete(s.dirty, i, i+1)
		}
	}
}

// rulesLocked hands the inbox the data-loss modes of the subscriptions.
func (s *subscriptions) rulesLocked() {
	var rules []modeRule
	for _, sub := range s.order {
		if sub.opts.DataLoss != DefaultDataLoss {
			rules = append(rules, modeRule{filter: sub.filter, mode: sub.opts.DataLoss})
		}
	}
	s.rules(rules)
}

// add subscribes to filter, unless the connected broker's maximum packet
// size leaves no room for it.
func (s *subscriptions) add(filter string, opts SubscribeOptions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fitsLocked(subOp{filter: filter, sub: &subscription{}, opts: opts}); err != nil {
		return err
	}
	s.gen++
	sub := s.table[filter]
	if sub == nil {
		sub = &subscription{filter: filter}
		s.table[filter] = sub
		s.order = append(s.order, sub)
	}
	sub.opts, sub.gen, sub.granted = opts, s.gen, false
	delete(s.unsubGen, filter)
	s.resetLocked(filter)
	s.markLocked(filter)
	s.rulesLocked()
	return nil
}

// fitsLocked returns a LimitError if op, alone in its packet, is larger
// than the connected broker allows.
func (s *subscriptions) fitsLocked(op subOp) error {
	if !s.isUp || s.maxPacket == 0 {
		return nil
	}
	return tooLarge(op, s.maxPacket)
}

// tooLarge returns a LimitError if op, alone in its packet, is larger than max.
func tooLarge(op subOp, max int) error {
	ops := []subOp{op}
	size := requestSize(ops)
	if size <= max {
		return nil
	}
	e := &LimitError{Op: "subscribe", Topic: op.filter, Limit: ErrPayloadTooLarge, What: "the SUBSCRIBE packet size", Got: size, Max: max}
	if op.sub == nil {
		e.Op, e.What = "unsubscribe", "the UNSUBSCRIBE packet size"
	}
	return e
}

func (s *subscriptions) removeLocked(filter string) {
	if sub := s.table[filter]; sub != nil {
		delete(s.table, filter)
		for i, o := range s.order {
			if o == sub {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
}

// remove unsubscribes from filter, unless the connected broker's maximum
// packet size leaves no room for it.
func (s *subscriptions) remove(filter string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fitsLocked(subOp{filter: filter}); err != nil {
		return err
	}
	s.unsubscribeLocked(filter)
	s.rulesLocked()
	return nil
}

func (s *subscriptions) unsubscribeLocked(filter string) {
	s.gen++
	s.removeLocked(filter)
	s.unsubGen[filter] = s.gen
	s.resetLocked(filter)
	s.markLocked(filter)
}

func (s *subscriptions) removeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range slices.Clone(s.order) {
		s.unsubscribeLocked(sub.filter)
	}
	s.rulesLocked()
}

// resetLocked forgets the strikes of filter: a new request starts afresh.
func (s *subscriptions) resetLocked(filter string) {
	delete(s.strikes, filter)
	delete(s.alone, filter)
}

// up records a connection that came up, with the broker's maximum packet
// size and what it said it lacks: it needs every subscription sent again.
func (s *subscriptions) up(maxPacket int, f *brokerFeatures) {
	s.features.Store(f)
	s.mu.Lock()
	s.maxPacket = maxPacket
	s.mu.Unlock()
	s.connected(true)
}

// down records that the connection ended.
func (s *subscriptions) down() { s.connected(false) }

// refusal returns the reason code the broker connected last would refuse
// a subscription with, for what its CONNACK said it lacks, or ReasonSuccess.
func (s *subscriptions) refusal(filter string, opts SubscribeOptions) ReasonCode {
	return s.features.Load().refusal(filter, opts)
}

// connected records the connection state; a new connection needs every
// subscription sent again.
func (s *subscriptions) connected(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.isUp = up
	if s.connEnd != nil {
		s.connEnd() // ends the waits for acknowledgements of the last connection
	}
	s.conn, s.connEnd = context.WithCancel(context.Background())
	if up {
		s.conns++
		for _, sub := range s.order {
			s.markLocked(sub.filter)
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// filters returns the subscribed filters in subscription order.
func (s *subscriptions) filters() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.order))
	for i, sub := range s.order {
		out[i] = sub.filter
	}
	return out
}

// take removes up to max dirty filters, in order, as operations, with a
// context that ends with the connection. A filter that can never fit the
// broker's maximum packet size fails here. When connected with nothing
// left to send, it calls ready.
func (s *subscriptions) take(max int) ([]subOp, context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isUp {
		return nil, nil
	}
	var ops []subOp
	for len(ops) < max && len(s.dirty) > 0 {
		f := s.dirty[0]
		s.dirty = slices.Delete(s.dirty, 0, 1)
		delete(s.isDirty, f)
		op := subOp{filter: f, alone: s.alone[f]}
		if sub := s.table[f]; sub != nil {
			op.sub, op.opts, op.gen = sub, sub.opts, sub.gen
			if sub.granted && op.opts.RetainHandling == SendRetained {
				op.opts.RetainHandling = SendRetainedIfNew
			}
		} else if g, ok := s.unsubGen[f]; ok {
			op.gen = g
		} else {
			continue // a subscription that failed meanwhile
		}
		if s.maxPacket > 0 {
			if err := tooLarge(op, s.maxPacket); err != nil {
				s.failLocked(op, err)
				continue
			}
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		s.ready()
		return nil, nil
	}
	return ops, s.conn
}

// failLocked ends op with err, if it is still what the game asked for: a
// subscription is forgotten.
func (s *subscriptions) failLocked(op subOp, err error) {
	if op.sub == nil {
		if g, ok := s.unsubGen[op.filter]; ok && g == op.gen {
			delete(s.unsubGen, op.filter)
			s.unmarkLocked(op.filter)
			s.emit(Event{Kind: EventUnsubscribeFailed, Topic: op.filter, Err: err})
		}
		return
	}
	if sub := s.table[op.filter]; sub != nil && sub.gen == op.gen {
		s.removeLocked(op.filter)
		s.unmarkLocked(op.filter)
		s.rulesLocked()
		s.emit(Event{Kind: EventSubscribeFailed, Topic: op.filter, Err: err})
	}
}

// retry marks operations dirty again after the connection failed under
// them, unless the game changed them meanwhile.
func (s *subscriptions) retry(ops []subOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		if op.sub != nil {
			if sub := s.table[op.filter]; sub == nil || sub.gen != op.gen {
				continue
			}
		} else if g, ok := s.unsubGen[op.filter]; !ok || g != op.gen {
			continue
		}
		s.markLocked(op.filter)
	}
}

// result applies the broker's answer to a subscribe operation. It reports
// whether the result is still current (the game did not change the
// subscription meanwhile).
func (s *subscriptions) result(op subOp, code ReasonCode) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.table[op.filter]
	if sub == nil || sub.gen != op.gen {
		return false
	}
	if code.IsFailure() {
		s.removeLocked(op.filter)
		s.rulesLocked()
	} else {
		sub.granted = true
	}
	return true
}

// unsubscribed records the broker's answer to an unsubscribe operation.
func (s *subscriptions) unsubscribed(op subOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.unsubGen[op.filter]; ok && g == op.gen {
		delete(s.unsubGen, op.filter)
	}
}

// fail ends every operation with err.
func (s *subscriptions) fail(ops []subOp, err func(subOp) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
		s.failLocked(op, err(op))
	}
}

// sending records ops as the request awaiting its acknowledgement, and
// returns the one it replaces.
func (s *subscriptions) sending(ops []subOp) request {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.flight
	s.flight = request{ops: ops, conn: s.conns, at: time.Now()}
	return prev
}

// unsent records that the request in flight was not sent after all: the
// one before it, prev, is still the one the connection's end may be the
// doing of.
func (s *subscriptions) unsent(prev request) {
	s.mu.Lock()
	s.flight = prev
	s.mu.Unlock()
}

// answered records that the request in flight got an answer, or was not
// sent after all: it did not cost the connection.
func (s *subscriptions) answered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range s.flight.ops {
		if s.strikes[op.filter] > 0 {
			s.resetLocked(op.filter)
		}
	}
	s.flight = request{}
}

// suspect reports when the request awaiting its acknowledgement was sent,
// if it went out on the last connection within the last second: the
// connection's end may be its doing. It is the rule outbox.strike follows.
func (s *subscriptions) suspect() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.flight
	return f.at, len(f.ops) > 0 && f.conn == s.conns && time.Since(f.at) <= time.Second
}

// strike blames the request in flight for the end of the connection, as
// outbox.strike blames a message: a broker drops the connection each time
// it gets a SUBSCRIBE over a limit it did not announce (its maximum packet
// size), while a network fault almost never hits right after the same
// request again. The filters of a struck packet are sent one per packet
// from then on, so one filter cannot sink the others with it; a filter
// struck limit times in a row fails with ErrDropsConnection and is
// forgotten, and the others are restored.
func (s *subscriptions) strike(limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ops := s.flight.ops
	s.flight = request{}
	for _, op := range ops {
		f := op.filter
		s.strikes[f]++
		if len(ops) > 1 {
			s.alone[f] = true
		}
		n := s.strikes[f]
		if n < limit {
			continue
		}
		s.resetLocked(f)
		kind := "SUBSCRIBE to"
		if op.sub == nil {
			kind = "UNSUBSCRIBE from"
		}
		s.failLocked(op, fmt.Errorf("%w (the %s %s, %d times)", ErrDropsConnection, kind, quoteShort(f), n))
	}
}

// maxFiltersPerPacket bounds one SUBSCRIBE or UNSUBSCRIBE.
const maxFiltersPerPacket = 64

// serve sends subscription changes on cli, the connection up now, until
// ctx ends with it.
func (s *subscriptions) serve(ctx context.Context, cli *paho.Client) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		for ctx.Err() == nil {
			ops, conn := s.take(maxFiltersPerPacket)
			if len(ops) == 0 {
				break
			}
			s.mu.Lock()
			max := s.maxPacket
			s.mu.Unlock()
			// An acknowledgement will not come once the connection is
			// gone: stop waiting then, not after AckTimeout.
			opCtx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(conn, cancel)
			for len(ops) > 0 {
				n := batch(ops, max)
				if !s.send(opCtx, cli, ops[:n]) {
					s.retry(ops)
					break
				}
				ops = ops[n:]
			}
			stop()
			cancel()
		}
	}
}

// batch returns how many operations from the front of ops fit one packet
// of at most max bytes (0: no limit but MQTT's): subscribes together
// unless one carries packet properties or is to go alone, unsubscribes
// together.
func batch(ops []subOp, max int) int {
	alone := func(op subOp) bool {
		return op.alone || op.sub != nil && (op.opts.SubscriptionID != 0 || len(op.opts.UserProperties) > 0)
	}
	if alone(ops[0]) {
		return 1
	}
	n := 1
	for n < len(ops) && (ops[n].sub == nil) == (ops[0].sub == nil) && !alone(ops[n]) &&
		(max == 0 || requestSize(ops[:n+1]) <= max) {
		n++
	}
	return n
}

// requestSize is the size in bytes of the SUBSCRIBE or UNSUBSCRIBE packet
// of ops, all of one kind, with the packet properties of the first.
func requestSize(ops []subOp) int {
	remaining := 2 // packet identifier
	if ops[0].sub == nil {
		remaining++ // no properties
		for _, op := range ops {
			remaining += 2 + len(op.filter)
		}
		return 1 + varintSize(remaining) + remaining
	}
	props := 0
	if id := ops[0].opts.SubscriptionID; id != 0 {
		props += 1 + varintSize(id)
	}
	for _, p := range ops[0].opts.UserProperties {
		props += 5 + len(p.Key) + len(p.Value)
	}
	remaining += varintSize(props) + props
	for _, op := range ops {
		remaining += 2 + len(op.filter) + 1 // and the options byte
	}
	return 1 + varintSize(remaining) + remaining
}

// send sends one packet's worth of operations and reports the outcome as
// events. It returns false if the connection failed before an answer.
func (s *subscriptions) send(ctx context.Context, cli *paho.Client, ops []subOp) bool {
	if ops[0].sub != nil {
		// What the broker's CONNACK rules out fails alone, unsent.
		if ops = s.dropUnsupported(ops); len(ops) == 0 {
			return true
		}
	}
	prev := s.sending(ops)
	if ops[0].sub == nil {
		u := &paho.Unsubscribe{Topics: make([]string, len(ops))}
		for i, op := range ops {
			u.Topics[i] = op.filter
		}
		ua, err := cli.Unsubscribe(ctx, u)
		if ua == nil {
			return s.unanswered(ctx, ops, prev, err, "UNSUBACK")
		}
		s.answered()
		for i, op := range ops {
			s.unsubscribed(op)
			code := reasonAt(ua.Reasons, i)
			if code.IsFailure() {
				s.emit(Event{Kind: EventUnsubscribeFailed, Topic: op.filter, Err: &BrokerError{Op: "unsubscribe", Topic: op.filter, Code: code, Reason: unsubackReason(ua)}})
			} else {
				s.emit(Event{Kind: EventUnsubscribed, Topic: op.filter})
			}
		}
		return true
	}
	sp := &paho.Subscribe{Subscriptions: make([]paho.SubscribeOptions, len(ops))}
	for i, op := range ops {
		sp.Subscriptions[i] = paho.SubscribeOptions{
			Topic:             op.filter,
			QoS:               byte(op.opts.QoS),
			RetainHandling:    byte(op.opts.RetainHandling),
			NoLocal:           op.opts.NoLocal,
			RetainAsPublished: op.opts.RetainAsPublished,
		}
	}
	if o := ops[0].opts; o.SubscriptionID != 0 || len(o.UserProperties) > 0 {
		sp.Properties = &paho.SubscribeProperties{User: pahoUser(o.UserProperties)}
		if o.SubscriptionID != 0 {
			id := o.SubscriptionID
			sp.Properties.SubscriptionIdentifier = &id
		}
	}
	sa, err := cli.Subscribe(ctx, sp)
	if sa == nil {
		if err != nil && errors.Is(err, paho.ErrInvalidArguments) {
			// paho refused it against the broker's CONNACK (no wildcards,
			// no shared subscriptions, no identifiers): that is final.
			s.answered()
			s.fail(ops, func(op subOp) error {
				return fmt.Errorf("mqttgame: cannot subscribe to %s: %w", quoteShort(op.filter), err)
			})
			return true
		}
		return s.unanswered(ctx, ops, prev, err, "SUBACK")
	}
	s.answered()
	var busy []subOp
	for i, op := range ops {
		code := reasonAt(sa.Reasons, i)
		if code == ReasonPacketIDInUse {
			busy = append(busy, op)
			continue
		}
		if !s.result(op, code) {
			continue
		}
		if code.IsFailure() {
			s.emit(Event{Kind: EventSubscribeFailed, Topic: op.filter, Err: &BrokerError{Op: "subscribe", Topic: op.filter, Code: code, Reason: subackReason(sa)}})
		} else {
			s.emit(Event{Kind: EventSubscribed, Topic: op.filter, QoS: QoS(code)})
		}
	}
	if len(busy) > 0 {
		// Each side numbers its packets on its own, but some brokers
		// (mochi) refuse a SUBSCRIBE whose identifier one of their own
		// messages in flight to the client also has. The refusal is not
		// about the filter: send it again, shortly, under the next
		// identifier.
		t := time.NewTimer(busyRetryDelay)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		s.retry(busy)
	}
	return true
}

// unanswered handles a request that got no acknowledgement (ack names
// the one awaited), and reports whether it is over. Past AckTimeout on a
// live connection, it fails with ErrTimeout and is not sent again: a
// broker that ignores a request is not going to answer its resend. When
// the connection failed, it is sent again on the next.
func (s *subscriptions) unanswered(ctx context.Context, ops []subOp, prev request, err error, ack string) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		s.answered()
		s.fail(ops, func(op subOp) error {
			return fmt.Errorf("%w waiting %v for the %s of %s", ErrTimeout, s.ackTimeout, ack, quoteShort(op.filter))
		})
		return true
	case errors.Is(err, session.ErrNoConnection):
		s.unsent(prev)
	}
	return err == nil
}

// busyRetryDelay is the wait before subscribing again after a broker
// answered "packet identifier in use".
const busyRetryDelay = 20 * time.Millisecond

// reasonAt returns the i-th reason code of an acknowledgement; a broker
// that sent too few is treated as refusing the rest.
func reasonAt(reasons []byte, i int) ReasonCode {
	if i < len(reasons) {
		return ReasonCode(reasons[i])
	}
	return ReasonProtocolError
}

func subackReason(sa *paho.Suback) string {
	if sa.Properties == nil {
		return ""
	}
	return sa.Properties.ReasonString
}

func unsubackReason(ua *paho.Unsuback) string {
	if ua.Properties == nil {
		return ""
	}
	return ua.Properties.ReasonString
}

package mqttgame

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
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
	QoS QoS
	// DataLoss is the mode for the topics this filter matches. Defaults
	// to DefaultDataLoss: Options.DataLoss.
	DataLoss DataLoss
	// NoLocal: the broker does not send back the client's own messages.
	NoLocal bool
	// RetainAsPublished: the broker keeps the retain flag as published
	// instead of clearing it on live messages.
	RetainAsPublished bool
	// RetainHandling: when retained messages are sent. When the client
	// restores subscriptions after a reconnect, SendRetained is sent as
	// SendRetainedIfNew, so a resumed session does not repeat them.
	RetainHandling RetainHandling
	// SubscriptionID, from 1 to 268435455, comes back in Message.SubscriptionID
	// of the messages this subscription brings. Defaults to 0: none.
	SubscriptionID int
	// UserProperties are sent with the SUBSCRIBE packet.
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
	gen    uint64
}

// subscriptions is the set of filters the game wants. Changes mark
// filters dirty; a goroutine per connection run sends what is dirty while
// the connection is up, and marks everything dirty again after each
// reconnect, so subscriptions survive a broker that lost the session.
type subscriptions struct {
	mu      sync.Mutex
	table   map[string]*subscription
	order   []*subscription // in order of first subscribe
	dirty   []string        // filters to send, in order
	isDirty map[string]bool //
	gen     uint64
	up      bool          // connected
	wake    chan struct{} // signalled when there is work
	rules   func([]modeRule)
	ready   func() // called when a connection has every subscription sent

	conn    context.Context // ends with the connection the operations are for
	connEnd context.CancelFunc

	features atomic.Pointer[brokerFeatures] // of the connection up, or the last one; see features.go
}

func newSubscriptions(rules func([]modeRule), ready func()) *subscriptions {
	return &subscriptions{
		table:   make(map[string]*subscription),
		isDirty: make(map[string]bool),
		wake:    make(chan struct{}, 1),
		rules:   rules,
		ready:   ready,
	}
}

func (s *subscriptions) markLocked(filter string) {
	if !s.isDirty[filter] {
		s.isDirty[filter] = true
		s.dirty = append(s.dirty, filter)
	}
	select {
	case s.wake <- struct{}{}:
	default:
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

func (s *subscriptions) add(filter string, opts SubscribeOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	sub := s.table[filter]
	if sub == nil {
		sub = &subscription{filter: filter}
		s.table[filter] = sub
		s.order = append(s.order, sub)
	}
	sub.opts, sub.gen, sub.granted = opts, s.gen, false
	s.markLocked(filter)
	s.rulesLocked()
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

func (s *subscriptions) remove(filter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.removeLocked(filter)
	s.markLocked(filter)
	s.rulesLocked()
}

func (s *subscriptions) removeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sub := range s.order {
		delete(s.table, sub.filter)
		s.markLocked(sub.filter)
	}
	s.order = nil
	s.rulesLocked()
}

// connected records the connection state; a new connection needs every
// subscription sent again.
func (s *subscriptions) connected(up bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.up = up
	if s.connEnd != nil {
		s.connEnd() // ends the waits for acknowledgements of the last connection
	}
	s.conn, s.connEnd = context.WithCancel(context.Background())
	if up {
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
// context that ends with the connection. When connected with nothing left
// to send, it calls ready.
func (s *subscriptions) take(max int) ([]subOp, context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.up {
		return nil, nil
	}
	if len(s.dirty) == 0 {
		s.ready()
		return nil, nil
	}
	n := min(max, len(s.dirty))
	ops := make([]subOp, n)
	for i, f := range s.dirty[:n] {
		delete(s.isDirty, f)
		op := subOp{filter: f}
		if sub := s.table[f]; sub != nil {
			op.sub, op.opts, op.gen = sub, sub.opts, sub.gen
			if sub.granted && op.opts.RetainHandling == SendRetained {
				op.opts.RetainHandling = SendRetainedIfNew
			}
		}
		ops[i] = op
	}
	s.dirty = append(s.dirty[:0], s.dirty[n:]...)
	return ops, s.conn
}

// retry marks operations dirty again after the connection failed under them.
func (s *subscriptions) retry(ops []subOp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, op := range ops {
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

// maxFiltersPerPacket bounds one SUBSCRIBE or UNSUBSCRIBE.
const maxFiltersPerPacket = 64

// serve sends subscription changes while the run lasts.
func (s *subscriptions) serve(ctx context.Context, cm *autopaho.ConnectionManager, emit func(Event)) {
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
			// An acknowledgement will not come once the connection is
			// gone: stop waiting then, not after AckTimeout.
			opCtx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(conn, cancel)
			for len(ops) > 0 {
				n := batch(ops)
				if !s.send(opCtx, cm, ops[:n], emit) {
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

// batch returns how many operations from the front of ops fit one packet:
// subscribes together unless one carries packet properties, unsubscribes
// together.
func batch(ops []subOp) int {
	alone := func(op subOp) bool {
		return op.sub != nil && (op.opts.SubscriptionID != 0 || len(op.opts.UserProperties) > 0)
	}
	if alone(ops[0]) {
		return 1
	}
	n := 1
	for n < len(ops) && (ops[n].sub == nil) == (ops[0].sub == nil) && !alone(ops[n]) {
		n++
	}
	return n
}

// send sends one packet's worth of operations and reports the outcome as
// events. It returns false if the connection failed before an answer.
func (s *subscriptions) send(ctx context.Context, cm *autopaho.ConnectionManager, ops []subOp, emit func(Event)) bool {
	if ops[0].sub == nil {
		u := &paho.Unsubscribe{Topics: make([]string, len(ops))}
		for i, op := range ops {
			u.Topics[i] = op.filter
		}
		ua, err := cm.Unsubscribe(ctx, u)
		if ua == nil {
			return err == nil
		}
		for i, op := range ops {
			code := reasonAt(ua.Reasons, i)
			if code.IsFailure() {
				emit(Event{Kind: EventUnsubscribeFailed, Topic: op.filter, Err: &BrokerError{Op: "unsubscribe", Topic: op.filter, Code: code, Reason: unsubackReason(ua)}})
			} else {
				emit(Event{Kind: EventUnsubscribed, Topic: op.filter})
			}
		}
		return true
	}
	if ops = s.dropUnsupported(ops, emit); len(ops) == 0 {
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
	sa, err := cm.Subscribe(ctx, sp)
	if sa == nil {
		if err != nil && errors.Is(err, paho.ErrInvalidArguments) {
			// paho refused it against the broker's CONNACK (no wildcards,
			// no shared subscriptions, no identifiers): that is final.
			for _, op := range ops {
				if s.result(op, ImplementationSpecificError) {
					emit(Event{Kind: EventSubscribeFailed, Topic: op.filter, Err: fmt.Errorf("mqttgame: cannot subscribe to %s: %w", quoteShort(op.filter), err)})
				}
			}
			return true
		}
		return err == nil
	}
	var busy []subOp
	for i, op := range ops {
		code := reasonAt(sa.Reasons, i)
		if code == PacketIDInUse {
			busy = append(busy, op)
			continue
		}
		if !s.result(op, code) {
			continue
		}
		if code.IsFailure() {
			emit(Event{Kind: EventSubscribeFailed, Topic: op.filter, Err: &BrokerError{Op: "subscribe", Topic: op.filter, Code: code, Reason: subackReason(sa)}})
		} else {
			emit(Event{Kind: EventSubscribed, Topic: op.filter, QoS: QoS(code)})
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

// busyRetryDelay is the wait before subscribing again after a broker
// answered "packet identifier in use".
const busyRetryDelay = 20 * time.Millisecond

// reasonAt returns the i-th reason code of an acknowledgement; a broker
// that sent too few is treated as refusing the rest.
func reasonAt(reasons []byte, i int) ReasonCode {
	if i < len(reasons) {
		return ReasonCode(reasons[i])
	}
	return ProtocolError
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

func pahoUser(props []UserProperty) paho.UserProperties {
	if len(props) == 0 {
		return nil
	}
	out := make(paho.UserProperties, len(props))
	for i, p := range props {
		out[i] = paho.UserProperty{Key: p.Key, Value: p.Value}
	}
	return out
}

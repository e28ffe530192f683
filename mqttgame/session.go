package mqttgame

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
	"github.com/eclipse/paho.golang/paho/store/memory"
)

// sessionState is paho's session state with the client listening in. It
// tells the outbox what becomes of each outgoing QoS 1 and 2 publish (and
// when paho forgets them), remembers why the broker closed a connection,
// and withholds the acknowledgement of a received message the inbox had
// no room for, in order, so the broker's flow control waits for the game.
type sessionState struct {
	*state.State
	out *outbox

	mu         sync.Mutex
	gen        uint64                   // connection generation, in the high bits of ack tokens
	acks       []pendingAck             // withheld acknowledgements, in arrival order
	limbo      map[ackToken]*pendingAck // held ones of the connection just lost
	tokens     map[uint16]ackToken      // the token of each message between its handler and paho\'s Ack
	flushing   bool                     // a goroutine is sending released acknowledgements
	disconnect *packets.Disconnect      // the DISCONNECT that ended the last connection, if any
	have       map[uint16]bool          // QoS 2 messages the inbox took, until their PUBREL
	held2      map[ackToken]bool        // QoS 2 messages the inbox holds
	relGen     map[uint16]uint64        // the generation each packet identifier last got a PUBREL in

	// ackMu orders paho's recording of a QoS 2 acknowledgement against the
	// PUBREL that ends the exchange (see ackAs).
	ackMu sync.Mutex
	wg    *sync.WaitGroup // tracks flush goroutines
	log   *slog.Logger
	store *watchedStore
}

// pendingAck is a received QoS 1 or 2 publish whose acknowledgement waits.
type pendingAck struct {
	pb    *packets.Publish // nil until paho's Ack for it arrives
	token ackToken
	ready bool // the inbox accepted it; acknowledge once all before it are
}

var _ session.SessionManager = (*sessionState)(nil)

func newSessionState(out *outbox, wg *sync.WaitGroup, log *slog.Logger) *sessionState {
	s := &sessionState{out: out, wg: wg, log: log, limbo: make(map[ackToken]*pendingAck), tokens: make(map[uint16]ackToken),
		have: make(map[uint16]bool), held2: make(map[ackToken]bool), relGen: make(map[uint16]uint64)}
	s.store = &watchedStore{Store: memory.New(), onReset: out.sessionLost, onGet: out.resent}
	s.State = state.New(s.store, memory.New())
	s.SetDebugLogger(pahoLogger{log, slog.LevelDebug, "paho session"})
	s.SetErrorLogger(pahoLogger{log, slog.LevelWarn, "paho session"})
	return s
}

// watchedStore is paho's memory store for outgoing packets. A Reset means
// paho forgot every unacknowledged publish; a Get, that paho is sending
// one again after reconnecting.
type watchedStore struct {
	*memory.Store
	onReset func()
	onGet   func(uint16)
}

func (w *watchedStore) Get(id uint16) (io.ReadCloser, error) {
	w.onGet(id)
	return w.Store.Get(id)
}

func (w *watchedStore) Reset() error {
	err := w.Store.Reset()
	w.onReset()
	return err
}

// forget drops the publish stored under id, which the outbox gave up
// on: paho does not send it again.
func (s *sessionState) forget(id uint16) { _ = s.store.Delete(id) }

// ConAckReceived implements session.SessionManager.
func (s *sessionState) ConAckReceived(conn io.Writer, cp *packets.Connect, ca *packets.Connack) error {
	s.mu.Lock()
	s.gen++
	s.disconnect = nil
	// Held messages of the last connection that no tick accepted are gone
	// from the inbox: the broker sends them again if it kept the session.
	clear(s.limbo)
	clear(s.tokens)
	clear(s.held2)
	if !ca.SessionPresent {
		// A new session: the broker numbers its messages afresh.
		clear(s.have)
	}
	s.mu.Unlock()
	return s.State.ConAckReceived(conn, cp, ca)
}

// ConnectionLost implements session.SessionManager. Acknowledgements of
// messages the game has are still recorded (paho then recognises the
// broker's resend as a duplicate); held messages are forgotten, and the
// broker sends them again if the session lives on.
func (s *sessionState) ConnectionLost(dp *packets.Disconnect) error {
	s.mu.Lock()
	if dp != nil {
		s.disconnect = dp
	}
	var ready []pendingAck
	for i := range s.acks {
		a := s.acks[i]
		if a.ready && a.pb != nil {
			ready = append(ready, a)
			continue
		}
		// Held, or waiting for paho's Ack: a tick may still accept it
		// before the client notices the loss and drops what it holds.
		s.limbo[a.token] = &a
	}
	clear(s.acks)
	s.acks = s.acks[:0]
	s.gen++
	s.mu.Unlock()
	for _, a := range ready {
		_ = s.ackAs(a.pb, a.token)
	}
	return s.State.ConnectionLost(dp)
}

// lastDisconnect returns the DISCONNECT the broker sent to end the last
// connection, or nil.
func (s *sessionState) lastDisconnect() *packets.Disconnect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnect
}

// AddToSession implements session.SessionManager. Only the outbox's
// sender, working on the message it took, adds PUBLISH packets.
func (s *sessionState) AddToSession(ctx context.Context, p session.Packet, resp chan<- packets.ControlPacket) error {
	err := s.State.AddToSession(ctx, p, resp)
	if err == nil {
		if pub, ok := p.(*packets.Publish); ok {
			if s.log.Enabled(ctx, slog.LevelDebug) {
				s.log.Debug("mqttgame: publish in session", "topic", pub.Topic, "qos", pub.QoS, "packetID", pub.PacketID, "payloadBytes", len(pub.Payload))
			}
			s.out.storedAs(pub.PacketID)
		}
	}
	return err
}

// PacketReceived implements session.SessionManager.
func (s *sessionState) PacketReceived(recv *packets.ControlPacket, pubChan chan<- *packets.Publish) error {
	if p, ok := recv.Content.(*packets.Pubrec); ok && ReasonCode(p.ReasonCode) == ReasonPacketIDInUse && s.out.isResend(p.PacketID) {
		// Some brokers (mochi-mqtt) answer a QoS 2 publish sent again
		// after a reconnect with "packet identifier in use" when they
		// already hold it: the broker has the message, so release it.
		p.ReasonCode = byte(ReasonSuccess)
	}
	switch p := recv.Content.(type) {
	case *packets.Publish:
		if p.QoS == 2 && p.Duplicate {
			s.mu.Lock()
			dup := s.have[p.PacketID]
			t := ackToken(s.gen<<16 | uint64(p.PacketID))
			s.mu.Unlock()
			if dup {
				// The broker sent again a QoS 2 message the game has
				// (a connection ended before paho recorded its PUBREC):
				// confirm it, do not deliver it twice. A PUBLISH without
				// DUP is never a resend: a broker that lost the exchange
				// (a restart that forgot it) sends a new message under
				// the identifier, which is delivered, as paho does.
				return s.ackAs(p, t)
			}
		}
	case *packets.Pubrel:
		s.ackMu.Lock()
		defer s.ackMu.Unlock()
		s.mu.Lock()
		delete(s.have, p.PacketID)
		s.relGen[p.PacketID] = s.gen
		s.mu.Unlock()
	}
	err := s.State.PacketReceived(recv, pubChan)
	switch p := recv.Content.(type) {
	case *packets.Puback:
		s.out.acked(p.PacketID, ReasonCode(p.ReasonCode), reasonString(p.Properties))
	case *packets.Pubrec:
		if p.ReasonCode >= 0x80 {
			s.out.acked(p.PacketID, ReasonCode(p.ReasonCode), reasonString(p.Properties))
		} else {
			s.out.released(p.PacketID)
		}
	case *packets.Pubcomp:
		s.out.acked(p.PacketID, ReasonCode(p.ReasonCode), reasonString(p.Properties))
	}
	return err
}

// received takes a QoS 1 or 2 PUBLISH the connection read itself
// (publishread.go) as paho takes the ones it reads: paho's session
// records it and passes it on, unless it is a QoS 2 message sent again
// that the game has; then deliver stages it and Ack acknowledges it,
// which paho's router would do.
func (s *sessionState) received(p *packets.Publish, deliver func(*packets.Publish)) {
	passed := make(chan *packets.Publish, 1)
	_ = s.PacketReceived(&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBLISH}, Content: p}, passed)
	select {
	case p := <-passed:
		deliver(p)
		_ = s.Ack(p)
	default:
	}
}

func reasonString(p *packets.Properties) string {
	if p == nil {
		return ""
	}
	return p.ReasonString
}

// token returns the ack token of a received publish on this connection,
// and keeps it for paho's Ack of the same message. A QoS 2 message is
// counted as the game's from here, unless the inbox holds it.
func (s *sessionState) token(packetID uint16, qos byte) ackToken {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := ackToken(s.gen<<16 | uint64(packetID))
	s.tokens[packetID] = t
	if qos == 2 {
		s.have[packetID] = true
	}
	return t
}

// hold implements acker: the inbox is holding a message. paho's Ack for
// it follows, and is withheld until release.
func (s *sessionState) hold(t ackToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id := uint16(t); s.have[id] {
		delete(s.have, id) // not the game's until a tick takes it
		s.held2[t] = true
	}
	switch uint64(t) >> 16 {
	case s.gen:
		s.acks = append(s.acks, pendingAck{token: t})
	case s.gen - 1: // the connection was lost meanwhile
		s.limbo[t] = &pendingAck{token: t}
	}
}

// Ack implements session.SessionManager: paho calls it once the client's
// handler has taken a message. Acknowledgements keep their order: once one
// is withheld, those after it wait too.
func (s *sessionState) Ack(pb *packets.Publish) error {
	if pb.QoS == 0 {
		return nil
	}
	s.mu.Lock()
	t, ok := s.tokens[pb.PacketID]
	delete(s.tokens, pb.PacketID)
	if !ok {
		t = ackToken(s.gen<<16 | uint64(pb.PacketID))
	}
	if uint64(t)>>16 != s.gen {
		// A message of the connection just lost, handled after the loss.
		if a := s.limbo[t]; a != nil {
			if !a.ready {
				a.pb = pb // held: acknowledged only if a tick accepts it
				s.mu.Unlock()
				return nil
			}
			delete(s.limbo, t)
		}
		s.mu.Unlock()
		// Recorded, not sent: paho then knows a resent QoS 2 message as
		// one the game has.
		return s.ackAs(pb, t)
	}
	for i := len(s.acks) - 1; i >= 0; i-- {
		if a := &s.acks[i]; a.token == t && a.pb == nil {
			a.pb = pb
			s.startFlushLocked()
			s.mu.Unlock()
			return nil
		}
	}
	if len(s.acks) == 0 && !s.flushing {
		s.mu.Unlock()
		return s.ackAs(pb, t)
	}
	s.acks = append(s.acks, pendingAck{pb: pb, token: t, ready: true})
	s.mu.Unlock()
	return nil
}

// release implements acker: the inbox accepted held messages. Their
// acknowledgements go out in order on a goroutine, never on the caller's
// (the game's tick).
func (s *sessionState) release(tokens ...ackToken) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range tokens {
		if s.held2[t] {
			delete(s.held2, t)
			s.have[uint16(t)] = true
		}
		if uint64(t)>>16 != s.gen {
			// From the connection just lost: record the acknowledgement
			// (nothing can be sent), so that the broker's resend of a QoS 2
			// message the game now has is recognised.
			if a := s.limbo[t]; a != nil {
				a.ready = true
				if a.pb != nil {
					delete(s.limbo, t)
					s.wg.Add(1)
					go func(pb *packets.Publish) {
						defer s.wg.Done()
						_ = s.ackAs(pb, t)
					}(a.pb)
				}
			}
			continue
		}
		for i := range s.acks {
			if s.acks[i].token == t && !s.acks[i].ready {
				s.acks[i].ready = true
				break
			}
		}
	}
	s.startFlushLocked()
}

// ackAs has paho acknowledge pb, received with token t, unless the broker
// has since released its packet identifier (a PUBREL on a later
// connection, after the broker's resend was confirmed): the exchange is
// over, and a PUBREC recorded now would make paho take the next message
// under that identifier for a duplicate, and drop it.
func (s *sessionState) ackAs(pb *packets.Publish, t ackToken) error {
	s.ackMu.Lock()
	defer s.ackMu.Unlock()
	if pb.QoS == 2 {
		s.mu.Lock()
		over := s.relGen[pb.PacketID] > uint64(t)>>16
		s.mu.Unlock()
		if over {
			return nil
		}
	}
	return s.State.Ack(pb)
}

func (s *sessionState) startFlushLocked() {
	if !s.flushing && len(s.acks) > 0 && s.acks[0].ready && s.acks[0].pb != nil {
		s.flushing = true
		s.wg.Add(1)
		go s.flush()
	}
}

// flush sends the ready acknowledgements at the front of the line.
func (s *sessionState) flush() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		n := 0
		for n < len(s.acks) && s.acks[n].ready && s.acks[n].pb != nil {
			n++
		}
		if n == 0 {
			s.flushing = false
			s.mu.Unlock()
			return
		}
		batch := make([]pendingAck, n)
		copy(batch, s.acks[:n])
		rest := copy(s.acks, s.acks[n:])
		clear(s.acks[rest:])
		s.acks = s.acks[:rest]
		s.mu.Unlock()
		for _, a := range batch {
			_ = s.ackAs(a.pb, a.token)
		}
	}
}

package mqttgame

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// reconnects plays a session with an expiry, so paho keeps its state
// across connections as a broker keeping the session would.
func newTestSession(t *testing.T) (*sessionState, *sync.WaitGroup, func(present bool)) {
	var wg sync.WaitGroup
	s := newSessionState(newOutbox(10, func(Event) {}), &wg, slog.New(slog.DiscardHandler))
	expiry := uint32(60)
	connect := &packets.Connect{Properties: &packets.Properties{SessionExpiryInterval: &expiry}}
	var conn bytes.Buffer
	up := func(present bool) {
		if err := s.ConAckReceived(&conn, connect, &packets.Connack{SessionPresent: present, Properties: &packets.Properties{}}); err != nil {
			t.Fatal(err)
		}
	}
	up(false)
	return s, &wg, up
}

// resentShown reports whether the broker's resend of QoS 2 message id
// reaches the game.
func resentShown(s *sessionState, id uint16) bool { return arrivalShown(s, id, true) }

// arrivalShown reports whether a QoS 2 message the broker sends under id,
// with the DUP flag or without, reaches the game.
func arrivalShown(s *sessionState, id uint16, dupFlag bool) bool {
	ch := make(chan *packets.Publish, 1)
	dup := &packets.Publish{QoS: 2, PacketID: id, Duplicate: dupFlag, Topic: "t", Properties: &packets.Properties{}}
	s.PacketReceived(&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBLISH}, Content: dup}, ch)
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// TestHeldAcceptedAfterLossIsNotShownTwice: a held QoS 2 message that a
// tick accepts after the connection died, before the client noticed,
// has its acknowledgement recorded: the broker's resend is not shown.
func TestHeldAcceptedAfterLossIsNotShownTwice(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 7, Topic: "t", Properties: &packets.Properties{}}
	tok := s.token(7, 2)
	s.hold(tok) // the inbox held it
	s.Ack(pb)   // paho's Ack: withheld
	s.ConnectionLost(nil)
	s.release(tok) // a tick accepts it: the game has it
	wg.Wait()
	up(true)
	if resentShown(s, 7) {
		t.Fatal("the resend of a message the game has was shown again")
	}
}

// TestHeldAfterLossAndDroppedIsShownAgain: a QoS 2 message handled after
// the connection died and held, then dropped with the held messages, is
// not recorded as had: the broker's resend reaches the game.
func TestHeldAfterLossAndDroppedIsShownAgain(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 9, Topic: "t", Properties: &packets.Properties{}}
	tok := s.token(9, 2) // arrived on the live connection...
	s.ConnectionLost(nil)
	s.hold(tok) // ...held after the loss
	s.Ack(pb)
	wg.Wait()
	up(true) // the client dropped what it held; no tick accepted it
	if !resentShown(s, 9) {
		t.Fatal("a message the game never had was taken for a duplicate: lost")
	}
}

// TestNewMessageUnderOpenIdentifierIsShown: a broker that forgot an
// exchange (a restart that lost it) sends a new QoS 2 message under the
// identifier of one the game has, before any PUBREL, and without DUP: it
// is not a resend, and reaches the game. With DUP it is one, and does
// not.
func TestNewMessageUnderOpenIdentifierIsShown(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 31, Topic: "t", Properties: &packets.Properties{}}
	s.token(31, 2)
	s.Ack(pb) // the game has it; PUBREC recorded
	wg.Wait()
	s.ConnectionLost(nil)
	up(true)
	if arrivalShown(s, 31, true) {
		t.Error("the resend (DUP) of a message the game has was shown again")
	}
	if !arrivalShown(s, 31, false) {
		t.Error("a new message (no DUP) under the identifier of one the game has was taken for a resend: lost")
	}
}

// TestAcceptedAfterLossIsNotShownTwice: a QoS 2 message handled after the
// loss and accepted at once is recorded as had.
func TestAcceptedAfterLossIsNotShownTwice(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 11, Topic: "t", Properties: &packets.Properties{}}
	s.token(11, 2)
	s.ConnectionLost(nil)
	s.Ack(pb) // not held: the game has it
	wg.Wait()
	up(true)
	if resentShown(s, 11) {
		t.Fatal("the resend of a message the game has was shown again")
	}
}

// TestAcceptedBeforeAckRecordedIsNotShownTwice: a QoS 2 message the inbox
// took, whose connection ended before paho recorded the acknowledgement,
// is not shown again when the broker resends it; the resend is confirmed.
func TestAcceptedBeforeAckRecordedIsNotShownTwice(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	s.token(13, 2) // the inbox took it; paho's Ack has not run yet
	s.ConnectionLost(nil)
	up(true)
	if resentShown(s, 13) {
		t.Fatal("the resend of a message the game has was shown again")
	}
	wg.Wait()
}

// TestPacketIDFreeAfterPubrel: once the broker released a QoS 2 message
// (PUBREL), its packet identifier may carry a new message, which is shown;
// so is one of a new session.
func TestPacketIDFreeAfterPubrel(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	s.token(15, 2)
	s.Ack(&packets.Publish{QoS: 2, PacketID: 15, Topic: "t", Properties: &packets.Properties{}})
	rel := &packets.Pubrel{PacketID: 15, Properties: &packets.Properties{}}
	s.PacketReceived(&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBREL}, Content: rel}, nil)
	if !resentShown(s, 15) {
		t.Fatal("a new message reusing a released packet identifier was taken for a duplicate")
	}
	s.token(17, 2)
	s.ConnectionLost(nil)
	up(false) // the broker started a new session
	if !resentShown(s, 17) {
		t.Fatal("a message of a new session was taken for a duplicate of the old one")
	}
	wg.Wait()
}

// TestLateAckAfterPubrelDoesNotSwallowNext: the acknowledgement of a QoS
// 2 message from a lost connection, passed on late (by the goroutine that
// sends withheld acknowledgements), after the broker's resend was
// confirmed and the broker released the identifier, is not recorded: the
// next message under that identifier reaches the game.
func TestLateAckAfterPubrelDoesNotSwallowNext(t *testing.T) {
	t.Parallel()
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 21, Topic: "t", Properties: &packets.Properties{}}
	old := s.token(21, 2) // the inbox took it; its acknowledgement waits
	s.ConnectionLost(nil)
	up(true)
	if resentShown(s, 21) { // the broker's resend, confirmed
		t.Fatal("the resend of a message the game has was shown again")
	}
	rel := &packets.Pubrel{PacketID: 21, Properties: &packets.Properties{}}
	s.PacketReceived(&packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PUBREL}, Content: rel}, nil)
	if err := s.ackAs(pb, old); err != nil { // the late acknowledgement
		t.Fatal(err)
	}
	if !resentShown(s, 21) {
		t.Fatal("a new message under a released identifier was taken for a duplicate: lost")
	}
	wg.Wait()
}

// TestStalePublishAfterResendIsNotSentAgain: a sender stores a QoS 2
// publish while a connection is up and is held up (a busy machine)
// before writing it; the connection is lost, the next one comes up, paho
// resends the session's publish on it and the broker completes the
// exchange: PUBREC, PUBREL, PUBCOMP. When the sender finally writes the
// publish to the lost connection, nothing may go out on the current one:
// the broker would take the same message, under a packet identifier it
// released, for a new one and deliver it twice. (The connection loop ends
// each connection's sender before the next connection; this holds even
// for a write that comes late.)
func TestStalePublishAfterResendIsNotSentAgain(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	s := newSessionState(newOutbox(10, func(Event) {}), &wg, slog.New(slog.DiscardHandler))
	expiry := uint32(60)
	connect := &packets.Connect{Properties: &packets.Properties{SessionExpiryInterval: &expiry}}
	pipe := func() (*packetConn, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		pc := newPacketConn(a, 1<<20, nil, func(error) {}, nil, nil)
		return pc, b
	}
	// The broker's end of a connection: every packet it reads, in order.
	broker := func(c net.Conn) chan *packets.ControlPacket {
		ch := make(chan *packets.ControlPacket, 16)
		go func() {
			defer close(ch)
			for {
				p, err := packets.ReadPacket(c)
				if err != nil {
					return
				}
				ch <- p
			}
		}()
		return ch
	}
	next := func(ch chan *packets.ControlPacket, want byte) *packets.ControlPacket {
		t.Helper()
		p := <-ch
		if p == nil || p.Type != want {
			t.Fatalf("the broker read %v, want packet type %d", p, want)
		}
		return p
	}

	old, oldPeer := pipe()
	if err := s.ConAckReceived(old, connect, &packets.Connack{Properties: &packets.Properties{}}); err != nil {
		t.Fatal(err)
	}
	pub := &packets.Publish{QoS: 2, Topic: "t", Payload: []byte("once"), Properties: &packets.Properties{}}
	if err := s.AddToSession(context.Background(), pub, make(chan packets.ControlPacket, 1)); err != nil {
		t.Fatal(err)
	}
	// The connection is lost before the sender writes; the next one
	// resends the session's publish, and the broker completes it.
	oldPeer.Close()
	s.ConnectionLost(nil)
	cur, curPeer := pipe()
	atCur := broker(curPeer)
	if err := s.ConAckReceived(cur, connect, &packets.Connack{SessionPresent: true, Properties: &packets.Properties{}}); err != nil {
		t.Fatal(err)
	}
	if p := next(atCur, packets.PUBLISH).Content.(*packets.Publish); p.PacketID != pub.PacketID || !p.Duplicate {
		t.Fatalf("the resend: publish %d dup %v, want %d dup true", p.PacketID, p.Duplicate, pub.PacketID)
	}
	recv := func(cp *packets.ControlPacket) {
		if err := s.PacketReceived(cp, nil); err != nil {
			t.Fatal(err)
		}
	}
	rec := packets.NewControlPacket(packets.PUBREC)
	rec.Content.(*packets.Pubrec).PacketID = pub.PacketID
	recv(rec)
	next(atCur, packets.PUBREL)
	comp := packets.NewControlPacket(packets.PUBCOMP)
	comp.Content.(*packets.Pubcomp).PacketID = pub.PacketID
	recv(comp)

	// The held-up sender writes at last.
	pub.WriteTo(old)
	ping := &packets.ControlPacket{FixedHeader: packets.FixedHeader{Type: packets.PINGREQ}, Content: &packets.Pingreq{}}
	if _, err := ping.WriteTo(cur); err != nil {
		t.Fatal(err)
	}
	if p := <-atCur; p == nil || p.Type != packets.PINGREQ {
		t.Fatalf("after the exchange ended, the current connection carried %v: the message went to the broker twice", p)
	}
	wg.Wait()
}

package mqttgame

import (
	"bytes"
	"log/slog"
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
func resentShown(s *sessionState, id uint16) bool {
	ch := make(chan *packets.Publish, 1)
	dup := &packets.Publish{QoS: 2, PacketID: id, Duplicate: true, Topic: "t", Properties: &packets.Properties{}}
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
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 7, Topic: "t", Properties: &packets.Properties{}}
	tok := s.token(7)
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
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 9, Topic: "t", Properties: &packets.Properties{}}
	tok := s.token(9) // arrived on the live connection...
	s.ConnectionLost(nil)
	s.hold(tok) // ...held after the loss
	s.Ack(pb)
	wg.Wait()
	up(true) // the client dropped what it held; no tick accepted it
	if !resentShown(s, 9) {
		t.Fatal("a message the game never had was taken for a duplicate: lost")
	}
}

// TestAcceptedAfterLossIsNotShownTwice: a QoS 2 message handled after the
// loss and accepted at once is recorded as had.
func TestAcceptedAfterLossIsNotShownTwice(t *testing.T) {
	s, wg, up := newTestSession(t)
	pb := &packets.Publish{QoS: 2, PacketID: 11, Topic: "t", Properties: &packets.Properties{}}
	s.token(11)
	s.ConnectionLost(nil)
	s.Ack(pb) // not held: the game has it
	wg.Wait()
	up(true)
	if resentShown(s, 11) {
		t.Fatal("the resend of a message the game has was shown again")
	}
}

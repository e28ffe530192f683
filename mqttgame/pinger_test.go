package mqttgame

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eclipse/paho.golang/packets"
)

// The pinger's tests run on a fake clock (testing/synctest): each plays
// the broker on one end of a pipe and reads when, to the nanosecond, the
// pinger sent its PINGREQs and gave up.

// pingerScene is a pinger running over a pipe, as paho runs it.
type pingerScene struct {
	p     *pinger
	start time.Time
	pings chan time.Duration // when each PINGREQ reached the broker, since start
	ended chan pingerEnd     // what Run returned, and when
	dead  chan error         // what the pinger told onDead
}

type pingerEnd struct {
	err error
	at  time.Duration
}

// startPinger runs a pinger with keepAlive seconds; holding is as in
// newPinger. The pinger and the broker's reader stop when the test does.
func startPinger(t *testing.T, keepAlive uint16, holding func() bool) *pingerScene {
	t.Helper()
	client, broker := net.Pipe()
	s := &pingerScene{
		start: time.Now(),
		pings: make(chan time.Duration, 16),
		ended: make(chan pingerEnd, 1),
		dead:  make(chan error, 1),
	}
	s.p = newPinger(func(err error) { s.dead <- err }, holding)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		err := s.p.Run(ctx, client, keepAlive)
		s.ended <- pingerEnd{err, time.Since(s.start)}
	}()
	go func() {
		for {
			cp, err := packets.ReadPacket(broker)
			if err != nil {
				return
			}
			if cp.Type == packets.PINGREQ {
				s.pings <- time.Since(s.start)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		client.Close()
		broker.Close()
	})
	return s
}

// nextPing waits for the next PINGREQ and returns when it came.
func (s *pingerScene) nextPing(t *testing.T) time.Duration {
	t.Helper()
	select {
	case at := <-s.pings:
		return at
	case end := <-s.ended:
		t.Fatalf("the pinger stopped at %v (%v) instead of pinging", end.at, end.err)
	case <-time.After(time.Hour):
		t.Fatal("no PINGREQ within an hour")
	}
	return 0
}

// answer sends the PINGRESP, which takes rtt to come.
func (s *pingerScene) answer() {
	time.Sleep(rtt)
	s.p.PacketReceived()
}

// rtt is the round trip of the pinger scenes.
const rtt = 10 * time.Millisecond

// at sleeps until d after the scene started.
func (s *pingerScene) at(d time.Duration) {
	time.Sleep(time.Until(s.start.Add(d)))
}

// TestPingerPingsAfterKeepAliveOfQuiet: a PINGREQ goes once the connection
// has been quiet for the keepalive in either direction: traffic both ways
// puts it off, traffic one way does not.
func TestPingerPingsAfterKeepAliveOfQuiet(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startPinger(t, 5, nil)
		if at := s.nextPing(t); at != 5*time.Second {
			t.Fatalf("first PINGREQ at %v on a quiet connection, want 5s", at)
		}
		s.answer()

		s.at(7 * time.Second)
		s.p.PacketSent()
		s.p.PacketReceived()
		if at := s.nextPing(t); at != 12*time.Second {
			t.Fatalf("PINGREQ at %v after traffic both ways at 7s, want 12s", at)
		}
		s.answer()

		s.at(14 * time.Second)
		s.p.PacketSent() // the client talks; nothing comes back
		if at := s.nextPing(t); at != 17*time.Second+rtt {
			t.Fatalf("PINGREQ at %v with nothing received since the answer at 12.01s, want 17.01s", at)
		}
	})
}

// TestPingerGivesUpWithoutPingresp: with no answer within half the
// keepalive of its PINGREQ, the pinger declares the connection dead (1.5
// times the keepalive after the last packet), tells onDead, and Run
// returns the same error.
func TestPingerGivesUpWithoutPingresp(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startPinger(t, 4, nil)
		if at := s.nextPing(t); at != 4*time.Second {
			t.Fatalf("PINGREQ at %v, want 4s", at)
		}
		end := <-s.ended
		if !errors.Is(end.err, errKeepAlive) || end.at != 6*time.Second {
			t.Fatalf("Run returned %v at %v, want errKeepAlive at 6s", end.err, end.at)
		}
		select {
		case err := <-s.dead:
			if !errors.Is(err, errKeepAlive) {
				t.Fatalf("onDead got %v, want errKeepAlive", err)
			}
		default:
			t.Fatal("onDead was not told")
		}
	})
}

// TestPingerAnswerInTime: a PINGRESP just inside the half keepalive
// keeps the connection; the next PINGREQ comes a keepalive after the
// last one, the client having said nothing since.
func TestPingerAnswerInTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startPinger(t, 4, nil)
		s.nextPing(t)
		s.at(6*time.Second - time.Millisecond)
		s.p.PacketReceived()
		if at := s.nextPing(t); at != 8*time.Second {
			t.Fatalf("next PINGREQ at %v, want a keepalive after the first (8s)", at)
		}
		select {
		case end := <-s.ended:
			t.Fatalf("Run returned %v at %v, though the broker answered", end.err, end.at)
		default:
		}
	})
}

// TestPingerHeldReadsAreNoSilence: while the client holds reads back on
// purpose, an unanswered PINGREQ says nothing about the broker: the
// pinger pings again a keepalive later instead of giving up.
func TestPingerHeldReadsAreNoSilence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startPinger(t, 4, func() bool { return true })
		s.nextPing(t)
		if at := s.nextPing(t); at != 10*time.Second {
			t.Fatalf("second PINGREQ at %v, want 10s (the half keepalive's wait, then a keepalive)", at)
		}
		select {
		case err := <-s.dead:
			t.Fatalf("onDead got %v while reads were held", err)
		default:
		}
	})
}

// TestPingerOffWithoutKeepAlive: a keepalive of 0 turns pinging off.
func TestPingerOffWithoutKeepAlive(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startPinger(t, 0, nil)
		if end := <-s.ended; end.err != nil || end.at != 0 {
			t.Fatalf("Run returned %v at %v, want nil at once", end.err, end.at)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if len(s.pings) != 0 {
			t.Fatalf("%d PINGREQs with the keepalive off", len(s.pings))
		}
	})
}

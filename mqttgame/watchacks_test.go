package mqttgame

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"
	"time"
)

// ackScene is a client with one QoS 1 message in flight on a connection,
// sent when the scene started, and its ack watch running on a fake clock
// (testing/synctest).
type ackScene struct {
	c      *Client
	a      *attemptInfo
	sent   time.Time
	closed chan time.Duration // when the watch closed the connection, since sent
}

// startAckWatch starts the scene with the given AckTimeout.
func startAckWatch(t *testing.T, timeout time.Duration) *ackScene {
	t.Helper()
	c, err := New(&Options{Brokers: []string{"ws://127.0.0.1:1/mqtt"}, AckTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	s := &ackScene{c: c, a: c.beginAttempt(), closed: make(chan time.Duration, 1)}
	c.out.connected(limits{maxQoS: ExactlyOnce})
	c.out.resume()
	if _, err := c.out.add(Message{Topic: "score", QoS: AtLeastOnce}); err != nil {
		t.Fatal(err)
	}
	m, _ := c.out.next(context.Background(), nil)
	c.out.storedAs(7)
	c.out.sent(m, nil)
	s.sent = time.Now()

	client, broker := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.watchAcks(ctx, newPacketConn(client, 1<<20, nil, nil, nil, nil))
		close(done)
	}()
	go func() {
		var b [1]byte
		_, _ = broker.Read(b[:]) // returns when the client's end closes
		s.closed <- time.Since(s.sent)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		client.Close()
		broker.Close()
	})
	return s
}

// TestAckWatchEndsConnectionAtTimeout: a message left unacknowledged for
// AckTimeout ends its connection, with ErrTimeout as the reason, no
// sooner; the watch looks every quarter of the timeout, so no later
// than that either.
func TestAckWatchEndsConnectionAtTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startAckWatch(t, 8*time.Second)
		time.Sleep(8*time.Second - time.Nanosecond)
		synctest.Wait()
		select {
		case at := <-s.closed:
			t.Fatalf("the connection ended %v after the publish, before AckTimeout (8s)", at)
		default:
		}
		if err := s.a.firstErr(); err != nil {
			t.Fatalf("error %v before AckTimeout", err)
		}
		var at time.Duration
		select {
		case at = <-s.closed:
		case <-time.After(time.Minute):
			t.Fatal("the connection still up a minute after AckTimeout")
		}
		if at != 8*time.Second {
			t.Fatalf("the connection ended %v after the publish, want at AckTimeout (8s)", at)
		}
		if err := s.a.firstErr(); !errors.Is(err, ErrTimeout) {
			t.Fatalf("the connection ended with %v, want ErrTimeout", err)
		}
	})
}

// TestAckWatchAckInTime: an acknowledgement just before AckTimeout keeps
// the connection.
func TestAckWatchAckInTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := startAckWatch(t, 8*time.Second)
		time.Sleep(8*time.Second - time.Millisecond)
		s.c.out.acked(7, ReasonSuccess, "")
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case at := <-s.closed:
			t.Fatalf("the connection ended %v after the publish, though the broker acknowledged it in time", at)
		default:
		}
		if err := s.a.firstErr(); err != nil {
			t.Fatalf("error %v though the broker acknowledged in time", err)
		}
	})
}

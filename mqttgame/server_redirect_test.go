//go:build !js

package mqttgame_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// attemptLog records which scripted broker each connection attempt reached.
type attemptLog struct {
	mu    sync.Mutex
	names []string
}

func (l *attemptLog) add(name string) {
	l.mu.Lock()
	l.names = append(l.names, name)
	l.mu.Unlock()
}

func (l *attemptLog) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.names {
		if s == name {
			n++
		}
	}
	return n
}

func (l *attemptLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.names...)
}

// redirector is a scripted broker that answers every CONNECT with a
// CONNACK carrying code and the Server Reference ref() returns, and
// records each attempt as name. It returns its address.
func redirector(t *testing.T, name string, log *attemptLog, code byte, ref func() string) string {
	t.Helper()
	return rawBroker(t, func(c net.Conn) {
		if cp, err := packets.ReadPacket(c); err != nil || cp.Type != packets.CONNECT {
			return
		}
		log.add(name)
		(&packets.Connack{ReasonCode: code, Properties: &packets.Properties{ServerReference: ref()}}).WriteTo(c)
		c.SetReadDeadline(time.Now().Add(waitFor))
		io.Copy(io.Discard, c) // until the client closes
	})
}

// redirectTarget starts an embedded broker with a plain MQTT listener and
// a proxy in front of it, to cut the client's connection.
func redirectTarget(t *testing.T) (proxyAddr string, reset func() int) {
	t.Helper()
	b := startBroker(t, &broker.Options{TCPAddr: "127.0.0.1:0"})
	p := newProxy(t, strings.TrimPrefix(b.TCPURL(), "mqtt://"))
	return p.Addr(), p.Reset
}

// connectFailure returns the first EventConnectFailed error c showed.
func connectFailure(c *mqttgame.Client) error {
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventConnectFailed {
			return e.Err
		}
	}
	return nil
}

// TestRedirectOnConnack: a CONNACK with Use another server (0x9C) or
// Server moved (0x9D) and a Server Reference, given as host:port or as a
// URL, sends the next attempt to the referenced broker at once: with an
// hour's ReconnectDelay, any back-off wait would fail the test. The
// failed attempt's error names the code and the reference.
func TestRedirectOnConnack(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name string
		code mqttgame.ReasonCode
		url  bool // the reference is a URL, not host:port
	}{
		{"use another server, host:port", mqttgame.ReasonUseAnotherServer, false},
		{"server moved, host:port", mqttgame.ReasonServerMoved, false},
		{"use another server, URL", mqttgame.ReasonUseAnotherServer, true},
		{"server moved, URL", mqttgame.ReasonServerMoved, true},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target, _ := redirectTarget(t)
			ref := target
			if tc.url {
				ref = "mqtt://" + target
			}
			var log attemptLog
			from := redirector(t, "from", &log, byte(tc.code), func() string { return ref })
			c := newClient(t, "mqtt://"+from, func(o *mqttgame.Options) {
				o.ReconnectDelay, o.MaxReconnectDelay = time.Hour, time.Hour
			})
			connect(t, c)
			if got, want := c.Broker(), "mqtt://"+target; got != want {
				t.Errorf("connected to %s, want %s", got, want)
			}
			err := connectFailure(c)
			var be *mqttgame.BrokerError
			if !errors.Is(err, tc.code) || !errors.As(err, &be) || be.ServerReference != ref {
				t.Errorf("the redirected attempt failed with %v, want %v with server reference %q", err, tc.code, ref)
			}
			if n := log.count("from"); n != 1 {
				t.Errorf("%d attempts at the redirecting broker, want 1", n)
			}
		})
	}
}

// TestServerMovedLastsForTheRun: after the connection to where the
// broker sent the client is lost, Use another server (0x9C), followed
// once, sends the client back to the configured URL, which redirects it
// again; Server moved (0x9D) replaced that URL, so the client reconnects
// to the new one directly.
func TestServerMovedLastsForTheRun(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name     string
		code     mqttgame.ReasonCode
		attempts int // at the redirecting broker, after the reconnection
	}{
		{"use another server", mqttgame.ReasonUseAnotherServer, 2},
		{"server moved", mqttgame.ReasonServerMoved, 1},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			target, reset := redirectTarget(t)
			var log attemptLog
			from := redirector(t, "from", &log, byte(tc.code), func() string { return target })
			c := newClient(t, "mqtt://"+from, func(o *mqttgame.Options) { o.ReconnectDelay = 10 * time.Millisecond })
			connect(t, c)
			reset()
			tickUntil(t, "the reconnection", func() bool { return c.Stats().Connects == 2 }, c)
			if got, want := c.Broker(), "mqtt://"+target; got != want {
				t.Errorf("reconnected to %s, want %s", got, want)
			}
			if n := log.count("from"); n != tc.attempts {
				t.Errorf("%d attempts at the redirecting broker, want %d", n, tc.attempts)
			}
		})
	}
}

// TestRedirectOnDisconnect: a broker that accepts the client, then ends
// the connection with DISCONNECT 0x9C and a Server Reference (a node
// being drained) sends the client to the referenced broker at once.
func TestRedirectOnDisconnect(t *testing.T) {
	t.Parallel()
	target, _ := redirectTarget(t)
	from := rawBroker(t, func(c net.Conn) {
		if cp, err := packets.ReadPacket(c); err != nil || cp.Type != packets.CONNECT {
			return
		}
		(&packets.Connack{Properties: &packets.Properties{}}).WriteTo(c)
		(&packets.Disconnect{ReasonCode: byte(mqttgame.ReasonUseAnotherServer), Properties: &packets.Properties{ServerReference: target}}).WriteTo(c)
		c.SetReadDeadline(time.Now().Add(waitFor))
		io.Copy(io.Discard, c)
	})
	c := newClient(t, "mqtt://"+from, func(o *mqttgame.Options) {
		o.ReconnectDelay, o.MaxReconnectDelay = time.Hour, time.Hour
	})
	connect(t, c)
	tickUntil(t, "the connection to the referenced broker", func() bool { return c.Broker() == "mqtt://"+target && c.IsConnected() }, c)
	var lost error
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventConnectionLost {
			lost = e.Err
		}
	}
	var be *mqttgame.BrokerError
	if !errors.Is(lost, mqttgame.ReasonUseAnotherServer) || !errors.As(lost, &be) || be.ServerReference != target {
		t.Errorf("connection lost with %v, want use another server with reference %q", lost, target)
	}
}

// TestRedirectLoopBounded: two brokers that send the client to each other
// are followed 3 times; the 4th redirect is not, the attempt fails with
// ErrTooManyRedirects, and the next attempt goes back to the configured URL.
func TestRedirectLoopBounded(t *testing.T) {
	t.Parallel()
	var log attemptLog
	var addrA, addrB atomic.Pointer[string]
	a := redirector(t, "A", &log, byte(mqttgame.ReasonUseAnotherServer), func() string { return *addrB.Load() })
	b := redirector(t, "B", &log, byte(mqttgame.ReasonUseAnotherServer), func() string { return *addrA.Load() })
	addrA.Store(&a)
	addrB.Store(&b)
	c := newClient(t, "mqtt://"+a, func(o *mqttgame.Options) { o.ReconnectDelay = 10 * time.Millisecond })
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	var loop error
	tickUntil(t, "ErrTooManyRedirects", func() bool {
		for _, e := range eventsOf(c) {
			if errors.Is(e.Err, mqttgame.ErrTooManyRedirects) {
				loop = e.Err
				return true
			}
		}
		return false
	}, c)
	var ce *mqttgame.ConnectError
	if !errors.As(loop, &ce) || !errors.Is(loop, mqttgame.ReasonUseAnotherServer) || errors.Is(loop, mqttgame.ErrUnreachable) {
		t.Errorf("loop error %v: want a ConnectError matching ReasonUseAnotherServer, not ErrUnreachable", loop)
	}
	waitUntil(t, "the attempt after the loop", func() bool { return len(log.all()) >= 5 })
	if got, want := strings.Join(log.all()[:5], " "), "A B A B A"; got != want {
		t.Errorf("attempts %s, want %s", got, want)
	}
}

// gate is a TCP front for a broker that can be down (it closes every
// connection at once) or up (it forwards them).
type gate struct {
	addr string
	up   atomic.Bool
	hits atomic.Int32
}

func newGate(t *testing.T, target string) *gate {
	g := &gate{}
	g.addr = rawBroker(t, func(c net.Conn) {
		g.hits.Add(1)
		if !g.up.Load() {
			return
		}
		d, err := net.Dial("tcp", target)
		if err != nil {
			return
		}
		defer d.Close()
		done := make(chan struct{})
		go func() {
			io.Copy(d, c)
			d.Close()
			close(done)
		}()
		io.Copy(c, d)
		c.Close()
		<-done
	})
	return g
}

// TestBrokersOrderAndReturnToFirst: with two broker URLs, the first is
// tried first; while it is down the client connects to the second, and
// after losing that connection it starts again from the first, back up
// by then, rather than going on with the second.
func TestBrokersOrderAndReturnToFirst(t *testing.T) {
	t.Parallel()
	brokerA := startBroker(t, &broker.Options{TCPAddr: "127.0.0.1:0"})
	brokerB := startBroker(t, &broker.Options{TCPAddr: "127.0.0.1:0"})
	a := newGate(t, strings.TrimPrefix(brokerA.TCPURL(), "mqtt://"))
	b := newProxy(t, strings.TrimPrefix(brokerB.TCPURL(), "mqtt://"))
	c := newClient(t, "mqtt://"+a.addr, func(o *mqttgame.Options) {
		o.Brokers = append(o.Brokers, "mqtt://"+b.Addr())
		o.ReconnectDelay = 10 * time.Millisecond
	})
	connect(t, c)
	if got, want := c.Broker(), "mqtt://"+b.Addr(); got != want {
		t.Fatalf("connected to %s, want %s", got, want)
	}
	if a.hits.Load() != 1 {
		t.Errorf("the first URL was tried %d times before the second, want 1", a.hits.Load())
	}
	a.up.Store(true)
	b.Reset()
	tickUntil(t, "the reconnection", func() bool { return c.Stats().Connects == 2 }, c)
	if got, want := c.Broker(), "mqtt://"+a.addr; got != want {
		t.Errorf("reconnected to %s, want the first URL %s", got, want)
	}
	if n := b.Accepted(); n != 1 {
		t.Errorf("the second URL took %d connections, want 1", n)
	}
}

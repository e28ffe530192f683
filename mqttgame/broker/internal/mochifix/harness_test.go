package mochifix

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// The tests of this package run each defect twice over real TCP
// connections: on a bare mochi server ("bare", without the repair), where
// the defect must show, and on one with the repair ("fixed"), where it
// must not. A bare case that stops showing its defect fails and says which
// file can go.

// waitFor bounds every wait for the network; a busy machine needs far
// less.
const waitFor = 20 * time.Second

// bareOnly skips a bare case unless MOCHIFIX_BARE is set, saying why: a
// data race fails any run under the race detector while the defect is
// there.
func bareOnly(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("MOCHIFIX_BARE") == "" {
		t.Skip(why + "; run with MOCHIFIX_BARE=1")
	}
}

// raceOfBareMochi is why the bare cases of data races are skipped.
const raceOfBareMochi = "a data race of bare mochi, reported under -race"

// gone fails a bare case whose defect did not show: mochi may have fixed
// it, and the repair in file may go.
func gone(t *testing.T, file, what string) {
	t.Helper()
	t.Errorf("bare mochi did not show the defect (%s): if a new release fixed it, delete %s, its test, and where package broker installs it", what, file)
}

// server is a mochi server on a TCP port of this machine.
type server struct {
	srv  *mqtt.Server
	addr string
	once sync.Once
}

// serverOptions configures a test server.
type serverOptions struct {
	hooks func(*mqtt.Server) []mqtt.Hook // added in order, before an allow-all hook
	caps  func(*mqtt.Capabilities)       // changes the default capabilities
	wrap  func(net.Conn) net.Conn        // wraps each connection mochi gets
	ended func(net.Conn)                 // called once mochi is done with a connection; may be nil
	addr  string                         // defaults to a free port
}

// startServer starts a mochi server, closed when the test ends.
func startServer(t *testing.T, o serverOptions) *server {
	t.Helper()
	caps := mqtt.NewDefaultServerCapabilities()
	if o.caps != nil {
		o.caps(caps)
	}
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: slog.New(slog.DiscardHandler), SysTopicResendInterval: 60})
	var hooks []mqtt.Hook
	if o.hooks != nil {
		hooks = o.hooks(srv)
	}
	for _, h := range append(hooks, new(auth.AllowHook)) {
		if err := srv.AddHook(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := &testListener{ln: ln, wrap: o.wrap, ended: o.ended}
	if err := srv.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	s := &server{srv: srv, addr: ln.Addr().String()}
	t.Cleanup(s.close)
	return s
}

func (s *server) close() { s.once.Do(func() { _ = s.srv.Close() }) }

// testListener hands mochi the connections of a TCP listener, as mochi's
// own does, with an optional wrapper.
type testListener struct {
	ln    net.Listener
	wrap  func(net.Conn) net.Conn
	ended func(net.Conn)
}

func (l *testListener) ID() string              { return "t" }
func (l *testListener) Address() string         { return l.ln.Addr().String() }
func (l *testListener) Protocol() string        { return "tcp" }
func (l *testListener) Init(*slog.Logger) error { return nil }
func (l *testListener) Close(close listeners.CloseFn) {
	l.ln.Close()
	close("t")
}

func (l *testListener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if l.wrap != nil {
			c = l.wrap(c)
		}
		go func() {
			_ = establish("t", c)
			if l.ended != nil {
				l.ended(c)
			}
		}()
	}
}

// conn is a raw MQTT v5 client connection, written and read with paho's
// packets package.
type conn struct {
	t *testing.T
	c net.Conn
}

// session asks for a session that outlives the connection.
type session struct {
	id     string
	keep   bool // a session expiry of an hour, resumed if there
	reset  bool // Clean Start even so
	resume bool // no Clean Start, and no session expiry

	receiveMaximum uint16 // 0: none said
}

// dial connects to addr and returns the connection and its CONNACK.
func dial(t *testing.T, addr string, ses session) (*conn, *packets.Connack) {
	t.Helper()
	c, ca, err := tryDial(t, addr, ses)
	if err != nil {
		t.Fatal(err)
	}
	return c, ca
}

// tryDial is dial for any goroutine: it returns what went wrong.
func tryDial(t *testing.T, addr string, ses session) (*conn, *packets.Connack, error) {
	c, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { c.Close() })
	cn := &conn{t: t, c: c}
	cp := packets.NewControlPacket(packets.CONNECT)
	p := cp.Content.(*packets.Connect)
	p.ProtocolName, p.ProtocolVersion, p.ClientID, p.KeepAlive = "MQTT", 5, ses.id, 60
	p.CleanStart = (!ses.keep && !ses.resume) || ses.reset
	p.Properties = &packets.Properties{}
	if ses.keep {
		hour := uint32(3600)
		p.Properties.SessionExpiryInterval = &hour
	}
	if ses.receiveMaximum > 0 {
		p.Properties.ReceiveMaximum = &ses.receiveMaximum
	}
	if _, err := cp.WriteTo(c); err != nil {
		return nil, nil, err
	}
	ack, err := cn.tryRead(waitFor)
	if err != nil {
		return nil, nil, err
	}
	ca, ok := ack.Content.(*packets.Connack)
	if !ok || ca.ReasonCode >= 0x80 {
		return nil, nil, fmt.Errorf("%s: connecting: got %v", ses.id, ack)
	}
	return cn, ca, nil
}

func (c *conn) send(cp *packets.ControlPacket) {
	c.t.Helper()
	if _, err := cp.WriteTo(c.c); err != nil {
		c.t.Fatalf("write %s: %v", cp.PacketType(), err)
	}
}

// read reads the next packet, failing the test after waitFor.
func (c *conn) read() *packets.ControlPacket {
	c.t.Helper()
	cp, err := c.tryRead(waitFor)
	if err != nil {
		c.t.Fatal(err)
	}
	return cp
}

// tryRead reads the next packet within d.
func (c *conn) tryRead(d time.Duration) (*packets.ControlPacket, error) {
	_ = c.c.SetReadDeadline(time.Now().Add(d))
	cp, err := packets.ReadPacket(c.c)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return cp, nil
}

func (c *conn) subscribe(filter string, qos byte) {
	c.t.Helper()
	cp := packets.NewControlPacket(packets.SUBSCRIBE)
	s := cp.Content.(*packets.Subscribe)
	s.PacketID = 1
	s.Subscriptions = []packets.SubOptions{{Topic: filter, QoS: qos}}
	c.send(cp)
	if ack := c.read(); ack.Type != packets.SUBACK {
		c.t.Fatalf("subscribing: got %v", ack)
	}
}

func (c *conn) publish(topic, payload string, qos byte, id uint16) {
	c.t.Helper()
	c.send(publishPacket(topic, payload, qos, id))
}

func publishPacket(topic, payload string, qos byte, id uint16) *packets.ControlPacket {
	cp := packets.NewControlPacket(packets.PUBLISH)
	p := cp.Content.(*packets.Publish)
	p.Topic, p.Payload, p.QoS, p.PacketID = topic, []byte(payload), qos, id
	return cp
}

// hold is a hook point a test holds until it releases it.
type hold struct {
	once    sync.Once
	held    chan struct{} // closed once something is held
	release chan struct{} // closed by the test
}

func newHold(t *testing.T) *hold {
	h := &hold{held: make(chan struct{}), release: make(chan struct{})}
	t.Cleanup(h.let) // before the server closes: cleanups run last first
	return h
}

// wait holds the first caller until the test releases it.
func (h *hold) wait() {
	h.once.Do(func() {
		close(h.held)
		<-h.release
	})
}

// let releases what is held.
func (h *hold) let() {
	select {
	case <-h.release:
	default:
		close(h.release)
	}
}

// holding waits until something is held.
func (h *hold) holding(t *testing.T) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(waitFor):
		t.Fatal("nothing was held")
	}
}

// ack answers a QoS 1 or 2 PUBLISH as far as PUBREC.
func (c *conn) ack(pk *packets.ControlPacket) {
	c.t.Helper()
	p := pk.Content.(*packets.Publish)
	switch p.QoS {
	case 1:
		a := packets.NewControlPacket(packets.PUBACK)
		a.Content.(*packets.Puback).PacketID = p.PacketID
		c.send(a)
	case 2:
		a := packets.NewControlPacket(packets.PUBREC)
		a.Content.(*packets.Pubrec).PacketID = p.PacketID
		c.send(a)
	}
}

// resent returns how many PUBLISH packets a resumed session got when it
// connected: mochi sends them before it reads the client's first packet,
// so they all come before the answer to a ping.
func (c *conn) resent() int {
	c.t.Helper()
	c.send(packets.NewControlPacket(packets.PINGREQ))
	n := 0
	for {
		switch cp := c.read(); cp.Type {
		case packets.PUBLISH:
			n++
		case packets.PINGRESP:
			return n
		}
	}
}

// until reads packets until one is a PUBLISH on topic, and returns the
// topics of the PUBLISH packets before it; it fails the test if none
// comes within waitFor.
func (c *conn) until(topic string) []string {
	c.t.Helper()
	var before []string
	for {
		cp := c.read()
		if p, ok := cp.Content.(*packets.Publish); ok {
			if p.Topic == topic {
				return before
			}
			before = append(before, p.Topic)
		}
	}
}

// resendCounted sends again, as a duplicate, the QoS 2 message on topic
// with packet identifier 1 that c published before, checks that the broker
// answers PUBREC, and returns how many times sub then got topic before a
// marker c publishes after it.
func (c *conn) resendCounted(sub *conn, topic, marker string) int {
	c.t.Helper()
	resend := publishPacket(topic, "m", 2, 1)
	resend.Content.(*packets.Publish).Duplicate = true
	c.send(resend)
	if ack := c.read(); ack.Type != packets.PUBREC {
		c.t.Fatalf("resend: got %v", ack)
	}
	c.publish(marker, "m", 0, 0)
	n := 0
	for _, got := range sub.until(marker) {
		if got == topic {
			n++
		}
	}
	return n
}

// ended reports whether the connection ends (EOF or reset) within waitFor.
func (c *conn) ended() bool {
	for {
		_, err := c.tryRead(waitFor)
		if err == nil {
			continue
		}
		var ne net.Error
		return !errors.As(err, &ne) || !ne.Timeout()
	}
}

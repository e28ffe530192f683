package conformance

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/internal/mosquitto"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// The brokers and transports of the matrix, in its order.
var (
	brokerNames    = []string{"mochi", "mosquitto"}
	transportNames = []string{"ws", "tcp"}
)

// server is a running broker with a WebSocket and a TCP listener.
type server interface {
	// URL returns the broker URL for a transport: ws:// or mqtt://.
	URL(transport string) string
	// target returns what a relay of that transport connects to: an
	// address (tcp) or a URL (ws).
	target(transport string) string
	// tcpAddr returns the TCP listener's address, for raw packets.
	tcpAddr() string
	// check fails the test if the broker lost anything it should not
	// have, or died.
	check(t testing.TB)
	close()
}

// limits are broker settings a case needs that the shared brokers do not
// have; a case that sets any gets a broker of its own.
type limits struct {
	maxPacketSize   int    // bytes the broker accepts in one packet, announced in CONNACK
	receiveMaximum  int    // QoS 1 and 2 publishes a client may have unacknowledged
	serverKeepAlive int    // seconds; the broker's Server Keep Alive for clients that ask more
	denySubscribe   string // a topic clients may not subscribe to
}

// startServer starts a broker of the given kind with the given limits.
func startServer(name string, l limits) (server, error) {
	switch name {
	case "mochi":
		return startMochi(l)
	case "mosquitto":
		return startMosquitto(l)
	}
	return nil, fmt.Errorf("no broker %q", name)
}

// mochiServer is the embedded broker.
type mochiServer struct {
	b   *broker.Broker
	srv *mqtt.Server // the mochi-mqtt server underneath, for its counters
}

func startMochi(l limits) (server, error) {
	var hooks []mqtt.Hook
	if l.serverKeepAlive > 0 {
		hooks = append(hooks, mqtttest.ServerKeepAlive(uint16(l.serverKeepAlive)))
	}
	if l.denySubscribe != "" {
		hooks = append(hooks, &denySubscribe{filter: l.denySubscribe})
	}
	m := new(mochiServer)
	b, err := broker.Start(&broker.Options{
		TCPAddr:        "127.0.0.1:0",
		MaxPacketSize:  uint32(l.maxPacketSize),
		ReceiveMaximum: uint16(l.receiveMaximum),
		Mochi:          func(s *mqtt.Server) []mqtt.Hook { m.srv = s; return hooks },
	})
	if err != nil {
		return nil, err
	}
	m.b = b
	return m, nil
}

func (m *mochiServer) URL(transport string) string {
	if transport == "tcp" {
		return m.b.TCPURL()
	}
	return m.b.URL()
}

func (m *mochiServer) target(transport string) string {
	if transport == "tcp" {
		return m.tcpAddr()
	}
	return m.b.URL()
}

func (m *mochiServer) tcpAddr() string { return strings.TrimPrefix(m.b.TCPURL(), "mqtt://") }

// check: mochi drops messages silently when a client's pending writes
// pass its limits (and counts them); no case may lose one that way.
func (m *mochiServer) check(t testing.TB) {
	t.Helper()
	info := m.srv.Info
	if d, i := info.MessagesDropped, info.InflightDropped; d != 0 || i != 0 {
		t.Errorf("mochi dropped messages: MessagesDropped=%d InflightDropped=%d", d, i)
	}
}

func (m *mochiServer) close() { m.b.Close() }

// denySubscribe is a mochi hook that lets every client in and refuses
// subscriptions to one filter. (mochi allows what any ACL hook allows, so
// the broker's allow-all hook must not be added: this one authenticates.)
type denySubscribe struct {
	mqtt.HookBase
	filter string
}

func (h *denySubscribe) ID() string { return "deny-subscribe" }

func (h *denySubscribe) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (h *denySubscribe) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (h *denySubscribe) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	return write || topic != h.filter
}

// mosquittoServer is the system's mosquitto.
type mosquittoServer struct{ b *mosquitto.Broker }

func startMosquitto(l limits) (server, error) {
	o := &mosquitto.Options{}
	if l.maxPacketSize > 0 {
		o.Config = append(o.Config, fmt.Sprintf("max_packet_size %d", l.maxPacketSize))
	}
	if l.receiveMaximum > 0 {
		// mosquitto announces it as its Receive Maximum.
		o.Config = append(o.Config, fmt.Sprintf("max_inflight_messages %d", l.receiveMaximum))
	}
	if l.serverKeepAlive > 0 {
		o.Config = append(o.Config, fmt.Sprintf("max_keepalive %d", l.serverKeepAlive))
	}
	if l.denySubscribe != "" {
		o.ACL = []string{"topic readwrite #", "topic deny " + l.denySubscribe}
	}
	b, err := mosquitto.Start(o)
	if err != nil {
		return nil, err
	}
	return &mosquittoServer{b}, nil
}

func (m *mosquittoServer) URL(transport string) string {
	if transport == "tcp" {
		return m.b.TCPURL()
	}
	return m.b.URL()
}

func (m *mosquittoServer) target(transport string) string {
	if transport == "tcp" {
		return m.b.TCPAddr()
	}
	return m.b.URL()
}

func (m *mosquittoServer) tcpAddr() string { return m.b.TCPAddr() }

func (m *mosquittoServer) check(t testing.TB) {
	t.Helper()
	if m.b.Exited() {
		t.Errorf("mosquitto died:\n%s", m.b.Log())
	}
}

func (m *mosquittoServer) close() { m.b.Close() }

// sharedServers holds one broker of each kind for the cases that need no
// limits of their own, started on first use and stopped by TestMain.
var sharedServers = struct {
	mu     sync.Mutex
	byName map[string]server
}{byName: map[string]server{}}

func shared(t testing.TB, name string) server {
	t.Helper()
	sharedServers.mu.Lock()
	defer sharedServers.mu.Unlock()
	if s := sharedServers.byName[name]; s != nil {
		return s
	}
	s, err := startServer(name, limits{})
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	sharedServers.byName[name] = s
	return s
}

func closeShared() {
	sharedServers.mu.Lock()
	defer sharedServers.mu.Unlock()
	for name, s := range sharedServers.byName {
		s.close()
		delete(sharedServers.byName, name)
	}
}

package interop

import (
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/internal/gamepeer"
	"github.com/mqttgame/mqttgame/internal/mosquitto"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// waitFor bounds every wait for something the network should do.
const waitFor = 10 * time.Second

// room is a broker the peers meet on, with its URL for each transport.
type room struct {
	name    string
	urls    map[string]string // "ws", "tcp"
	tcpAddr string            // host:port of the TCP listener
	check   func(t *testing.T)
}

// rooms starts the embedded broker and a mosquitto for one test, both
// with a WebSocket and a TCP listener, stopped when the test ends.
func rooms(t *testing.T) []room {
	t.Helper()
	var srv *mqtt.Server // the mochi-mqtt server underneath, for its counters
	b, err := broker.Start(&broker.Options{TCPAddr: "127.0.0.1:0", Mochi: func(s *mqtt.Server) []mqtt.Hook { srv = s; return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	m, err := mosquitto.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return []room{
		{
			name:    "mochi",
			urls:    map[string]string{"ws": b.URL(), "tcp": b.TCPURL()},
			tcpAddr: strings.TrimPrefix(b.TCPURL(), "mqtt://"),
			check: func(t *testing.T) {
				// mochi drops messages silently when a client's pending
				// writes pass its limits; no test may lose one that way.
				if i := srv.Info; i.MessagesDropped != 0 || i.InflightDropped != 0 {
					t.Errorf("mochi dropped messages: %d, in flight %d", i.MessagesDropped, i.InflightDropped)
				}
			},
		},
		{
			name:    "mosquitto",
			urls:    map[string]string{"ws": m.URL(), "tcp": m.TCPURL()},
			tcpAddr: m.TCPAddr(),
			check: func(t *testing.T) {
				if m.Exited() {
					t.Errorf("mosquitto died:\n%s", m.Log())
				}
			},
		},
	}
}

// forEachRoom runs f on each broker over each transport, as
// <broker>/<transport> subtests.
func forEachRoom(t *testing.T, f func(t *testing.T, r room, transport string)) {
	for _, r := range rooms(t) {
		t.Run(r.name, func(t *testing.T) {
			for _, tr := range []string{"ws", "tcp"} {
				t.Run(tr, func(t *testing.T) {
					f(t, r, tr)
					r.check(t)
				})
			}
		})
	}
}

// goClient is one of our clients, with FIFO delivery so that every
// message shows, keeping every message and event it showed.
type goClient = gamepeer.Peer

func newClient(t *testing.T, url string, edit func(*mqttgame.Options)) *goClient {
	t.Helper()
	o := &mqttgame.Options{
		Brokers:  []string{url},
		DataLoss: mqttgame.FIFO,
		Logger:   gamepeer.Logger(t, "client", 0),
	}
	if edit != nil {
		edit(o)
	}
	return gamepeer.New(mqtttest.NewClient(t, o), "client")
}

// until ticks the clients (and polls the peers through cond) until cond
// holds, failing the test after waitFor.
func until(t *testing.T, what string, cond func() bool, clients ...*goClient) {
	t.Helper()
	gamepeer.Waits{T: t, Limit: waitFor}.Until(what, cond, clients...)
}

func connect(t *testing.T, c *goClient) {
	t.Helper()
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	until(t, "connection", c.IsConnected, c)
}

func subscribe(t *testing.T, c *goClient, filter string, qos mqttgame.QoS) {
	t.Helper()
	if err := c.Subscribe(filter, qos); err != nil {
		t.Fatal(err)
	}
	until(t, "subscription to "+filter, func() bool { return c.IsSubscribed(filter) }, c)
}

// delivered waits for the broker's acknowledgement of a QoS 1 or 2 publish.
func delivered(t *testing.T, c *goClient, id mqttgame.PublishID) {
	t.Helper()
	until(t, "delivery", func() bool {
		for _, e := range c.Events {
			if e.ID == id && e.Kind == mqttgame.EventPublishFailed {
				t.Fatalf("publish failed: %v", e.Err)
			}
			if e.ID == id && e.Kind == mqttgame.EventDelivered {
				return true
			}
		}
		return false
	}, c)
}

// payloads for the byte-exact tests: text beyond ASCII, every byte value,
// a larger random block, and nothing at all.
func payloads() map[string][]byte {
	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	block := make([]byte, 64<<10)
	x := uint32(2463534242)
	for i := range block {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		block[i] = byte(x)
	}
	return map[string][]byte{
		"text":   []byte("héllo wörld ✓ — 🎮"),
		"binary": every,
		"block":  block,
		"empty":  {},
	}
}

package broker_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newClient(t *testing.T, url string, edit func(*mqttgame.Options)) *mqttgame.Client {
	t.Helper()
	o := &mqttgame.Options{Brokers: []string{url}, DataLoss: mqttgame.FIFO}
	if edit != nil {
		edit(o)
	}
	c, err := mqttgame.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func tickUntil(t *testing.T, what string, cond func() bool, clients ...*mqttgame.Client) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		for _, c := range clients {
			c.Update()
		}
	}, cond, nil)
}

func subscribed(c *mqttgame.Client, filter string) func() bool {
	return func() bool { return c.IsSubscribed(filter) }
}

// TestWebSocketAndTCP: a WebSocket client and a TCP client of one broker
// talk to each other.
func TestWebSocketAndTCP(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(&broker.Options{TCPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.HasPrefix(b.URL(), "ws://127.0.0.1:") || !strings.HasSuffix(b.URL(), "/mqtt") {
		t.Fatalf("URL() = %q", b.URL())
	}
	if !strings.HasPrefix(b.TCPURL(), "mqtt://127.0.0.1:") {
		t.Fatalf("TCPURL() = %q", b.TCPURL())
	}
	ws := newClient(t, b.URL(), nil)
	tcp := newClient(t, b.TCPURL(), nil)
	ws.Connect()
	tcp.Connect()
	ws.Subscribe("to/ws", 2)
	tcp.Subscribe("to/tcp", 2)
	tickUntil(t, "subscriptions", func() bool { return ws.IsSubscribed("to/ws") && tcp.IsSubscribed("to/tcp") }, ws, tcp)
	ws.PublishString("to/tcp", "hello tcp", 2, false)
	tcp.PublishString("to/ws", "hello ws", 2, false)
	tickUntil(t, "both messages", func() bool {
		return ws.LastMessage("to/ws") == "hello ws" && tcp.LastMessage("to/tcp") == "hello tcp"
	}, ws, tcp)
}

// TestSessionsAndQueuedMessages: a client with a session expiry that goes
// away gets, when it comes back, the QoS 1 and 2 messages published while
// it was gone.
func TestSessionsAndQueuedMessages(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	persistent := func(o *mqttgame.Options) {
		o.ClientID = "keeper"
		o.SessionExpiry = time.Minute
		o.ResumeSession = true
	}
	c := newClient(t, b.URL(), persistent)
	c.Connect()
	c.Subscribe("mail", 2)
	tickUntil(t, "subscription", subscribed(c, "mail"), c)
	c.Close()

	sender := newClient(t, b.URL(), nil)
	sender.Connect()
	id1, _ := sender.PublishString("mail", "one", 1, false)
	id2, _ := sender.PublishString("mail", "two", 2, false)
	delivered := map[mqttgame.PublishID]bool{}
	tickUntil(t, "both published", func() bool {
		for _, e := range sender.AppendEvents(nil) {
			if e.Kind == mqttgame.EventDelivered {
				delivered[e.ID] = true
			}
		}
		return delivered[id1] && delivered[id2]
	}, sender)

	back := newClient(t, b.URL(), persistent)
	back.Connect()
	var got []string
	sessionPresent := false
	tickUntil(t, "queued messages", func() bool {
		for _, e := range back.AppendEvents(nil) {
			if e.Kind == mqttgame.EventConnected {
				sessionPresent = e.SessionPresent
			}
		}
		if back.OnMessage("mail") {
			got = append(got, back.LastMessage("mail"))
		}
		return len(got) == 2
	}, back)
	// mochi-mqtt resends a resumed session's messages sorted by the
	// second they were created in, so two from one second may swap.
	if !(got[0] == "one" && got[1] == "two" || got[0] == "two" && got[1] == "one") {
		t.Fatalf("got %v, want one and two", got)
	}
	if !sessionPresent {
		t.Error("the broker did not resume the session")
	}
}

// TestHandlerServesOtherPaths: the HTTP server of the broker serves the
// game's files beside MQTT.
func TestHandlerServesOtherPaths(t *testing.T) {
	t.Parallel()
	files := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "game page") })
	b, err := broker.Start(&broker.Options{Handler: files})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	defer http.DefaultClient.CloseIdleConnections()
	resp, err := http.Get("http://" + b.Addr().String() + "/index.html")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "game page" {
		t.Fatalf("GET /index.html = %q", body)
	}
	resp, err = http.Get(strings.Replace(b.URL(), "ws://", "http://", 1))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired && resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain GET of the MQTT path: status %d, want a refusal to serve it as a page", resp.StatusCode)
	}
}

// TestCloseDisconnectsClients: clients see the connection lost, and the
// port is free again. It runs before the parallel tests, which could take
// the port meanwhile.
func TestCloseDisconnectsClients(t *testing.T) {
	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.ReconnectDelay = time.Hour })
	c.Connect()
	tickUntil(t, "connected", c.IsConnected, c)
	addr := b.Addr().String()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	var lost error
	tickUntil(t, "connection lost", func() bool {
		for _, e := range c.AppendEvents(nil) {
			if e.Kind == mqttgame.EventConnectionLost {
				lost = e.Err
			}
		}
		return lost != nil
	}, c)
	// The broker says why: it is shutting down.
	if !errors.Is(lost, mqttgame.ErrConnectionLost) || !errors.Is(lost, mqttgame.ReasonServerShuttingDown) {
		t.Fatalf("connection lost with %v, want ErrConnectionLost for server shutting down", lost)
	}
	again, err := broker.Start(&broker.Options{Addr: addr})
	if err != nil {
		t.Fatalf("restart on %s: %v", addr, err)
	}
	again.Close()
}

func TestStartErrors(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := broker.Start(&broker.Options{Addr: b.Addr().String()}); err == nil || !strings.Contains(err.Error(), "cannot listen") {
		t.Fatalf("second broker on a busy port: err = %v", err)
	}
}

// TestCloseWhileClientsConnect closes brokers while clients are still
// connecting, over and over: no data race, no goroutine left behind.
func TestCloseWhileClientsConnect(t *testing.T) {
	t.Parallel()
	for i := range 100 {
		b, err := broker.Start(nil)
		if err != nil {
			t.Fatal(err)
		}
		c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}, ReconnectDelay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		c.Connect()
		if i%2 == 0 {
			tickUntil(t, "connected", c.IsConnected, c)
		}
		b.Close()
		c.Close()
	}
}

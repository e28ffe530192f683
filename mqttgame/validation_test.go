//go:build !js

package mqttgame_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

func TestBadURLs(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		url    string
		reason string
	}{
		{"http://example.com/mqtt", `unknown scheme "http"`},
		{"example.com:1883", `unknown scheme "example.com"`},
		{"localhost", "no scheme"},
		{"ws://", "no host"},
		{"ws://:8080/mqtt", "no host"},
		{"ws://host:99999/mqtt", `port "99999"`},
		{"ws://host:0/mqtt", `port "0"`},
		{"ws://host:/mqtt", "empty port"},
		{"ws://player:hunter2@host/mqtt", "credentials in the URL are refused"},
		{"mqtt://host/some/path", "a path only makes sense"},
		{"ws://host/%zz", "invalid URL escape"},
	}
	for _, tc := range testCases {
		t.Run(tc.url, func(t *testing.T) {
			_, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost/mqtt", tc.url}})
			if err == nil {
				t.Fatalf("New accepted %q", tc.url)
			}
			var oe *mqttgame.OptionError
			if !errors.As(err, &oe) || oe.Option != "Brokers" || !errors.Is(err, mqttgame.ErrBadOption) {
				t.Errorf("error %v is not an OptionError for Brokers matching ErrBadOption", err)
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("error %q does not say %q", err, tc.reason)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestGoodURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ws://localhost:8080/mqtt", "wss://broker.example.com/mqtt", "WS://Host", "mqtt://localhost", "tcp://127.0.0.1:1883", "mqtts://example.com:8883", "ws://[::1]:9001/"} {
		if _, err := mqttgame.New(&mqttgame.Options{Brokers: []string{u}}); err != nil {
			t.Errorf("New(%q): %v", u, err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		opts   mqttgame.Options
		option string
	}{
		{"no broker", mqttgame.Options{}, "Brokers"},
		{"will with wildcard", mqttgame.Options{Will: &mqttgame.Will{Topic: "a/+"}}, "Will.Topic"},
		{"will QoS", mqttgame.Options{Will: &mqttgame.Will{Topic: "a", QoS: 3}}, "Will.QoS"},
		{"negative expiry", mqttgame.Options{SessionExpiry: -time.Second}, "SessionExpiry"},
		{"keepalive too long", mqttgame.Options{KeepAlive: 70000 * time.Second}, "KeepAlive"},
		{"huge packet size", mqttgame.Options{MaxPacketSize: 1 << 29}, "MaxPacketSize"},
		{"long client ID", mqttgame.Options{ClientID: strings.Repeat("x", 70000)}, "ClientID"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			if tc.option != "Brokers" {
				o.Brokers = []string{"ws://localhost/mqtt"}
			}
			_, err := mqttgame.New(&o)
			var oe *mqttgame.OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option || !errors.Is(err, mqttgame.ErrBadOption) {
				t.Fatalf("New = %v, want an OptionError for %s", err, tc.option)
			}
		})
	}
	if _, err := mqttgame.New(nil); !errors.Is(err, mqttgame.ErrBadOption) {
		t.Errorf("New(nil) = %v, want ErrBadOption", err)
	}
}

func TestPublishValidation(t *testing.T) {
	t.Parallel()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testCases := []struct {
		name string
		msg  mqttgame.Message
		want error
		says string
	}{
		{"empty topic", mqttgame.Message{Topic: ""}, mqttgame.ErrInvalidTopic, "is empty"},
		{"wildcard", mqttgame.Message{Topic: "chat/#"}, mqttgame.ErrInvalidTopic, "wildcard '#'"},
		{"NUL", mqttgame.Message{Topic: "a\x00"}, mqttgame.ErrInvalidTopic, "NUL"},
		{"bad UTF-8", mqttgame.Message{Topic: "\xff"}, mqttgame.ErrInvalidTopic, "UTF-8"},
		{"dollar", mqttgame.Message{Topic: "$SYS/x"}, mqttgame.ErrInvalidTopic, "reserved"},
		{"QoS 3", mqttgame.Message{Topic: "a", QoS: 3}, mqttgame.ErrInvalidQoS, "3 is not 0, 1 or 2"},
		{"long content type", mqttgame.Message{Topic: "a", ContentType: strings.Repeat("c", 70000)}, nil, "content type is 70000 bytes"},
		{"long user property", mqttgame.Message{Topic: "a", UserProperties: []mqttgame.UserProperty{{Key: "k", Value: strings.Repeat("v", 65536)}}}, nil, "user property 0 value is 65536 bytes"},
		{"long correlation", mqttgame.Message{Topic: "a", CorrelationData: make([]byte, 65536)}, nil, "correlation data is 65536 bytes"},
		{"bad response topic", mqttgame.Message{Topic: "a", ResponseTopic: "r/+"}, mqttgame.ErrInvalidTopic, "response topic"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PublishMessage(&tc.msg)
			if err == nil {
				t.Fatal("accepted")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v does not match %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
	c.Update()
	if st := c.Stats(); st.Queued != 0 {
		t.Errorf("refused publishes were queued: %d", st.Queued)
	}
}

func TestSubscribeValidation(t *testing.T) {
	t.Parallel()
	c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://localhost/mqtt"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, f := range []string{"", "a/#/b", "a+", "$share/g", "\xff"} {
		if err := c.Subscribe(f, 0); !errors.Is(err, mqttgame.ErrInvalidFilter) {
			t.Errorf("Subscribe(%q) = %v, want ErrInvalidFilter", f, err)
		}
		if err := c.Unsubscribe(f); !errors.Is(err, mqttgame.ErrInvalidFilter) {
			t.Errorf("Unsubscribe(%q) = %v, want ErrInvalidFilter", f, err)
		}
	}
	if err := c.Subscribe("a", 3); !errors.Is(err, mqttgame.ErrInvalidQoS) {
		t.Errorf("Subscribe QoS 3 = %v, want ErrInvalidQoS", err)
	}
	if err := c.SubscribeWith("a", mqttgame.SubscribeOptions{RetainHandling: 3}); err == nil {
		t.Error("retain handling 3 accepted")
	}
	if err := c.SubscribeWith("a", mqttgame.SubscribeOptions{SubscriptionID: -1}); err == nil {
		t.Error("negative subscription ID accepted")
	}
	if len(c.Subscriptions()) != 0 {
		t.Errorf("refused subscriptions were kept: %v", c.Subscriptions())
	}
}

// TestBrokerLimits: a broker's CONNACK limits are honoured. A publish too
// big for its maximum packet size is refused at once when connected, and
// one queued before the limits were known fails alone, without the
// connection being dropped and resent over and over.
func TestBrokerLimits(t *testing.T) {
	t.Parallel()
	b := startBroker(t, &broker.Options{MaxPacketSize: 1024, Mochi: func(srv *mqtt.Server) []mqtt.Hook {
		srv.Options.Capabilities.MaximumQos = 1
		srv.Options.Capabilities.RetainAvailable = 0
		return nil
	}})
	c := newClient(t, b.URL(), nil)

	early, err := c.Publish("big", make([]byte, 2000), 1, false)
	if err != nil {
		t.Fatalf("a publish queued before connecting was refused: %v", err)
	}
	okID, _ := c.PublishString("small", "fits", 1, false)
	connect(t, c)
	var failed, delivered bool
	var failure error
	tickUntil(t, "outcome of the queued publishes", func() bool {
		for _, e := range eventsOf(c) {
			switch {
			case e.Kind == mqttgame.EventPublishFailed && e.ID == early:
				failed, failure = true, e.Err
			case e.Kind == mqttgame.EventDelivered && e.ID == okID:
				delivered = true
			}
		}
		return failed && delivered
	}, c)
	var le *mqttgame.LimitError
	if !errors.Is(failure, mqttgame.ErrPayloadTooLarge) || !errors.As(failure, &le) || le.Max != 1024 {
		t.Fatalf("failure = %v, want ErrPayloadTooLarge against 1024", failure)
	}
	if st := c.Stats(); st.ConnectionsLost != 0 || st.Connects != 1 {
		t.Fatalf("the oversize message cost connections: %+v", st)
	}

	testCases := []struct {
		name   string
		msg    mqttgame.Message
		want   error
		detail string
	}{
		{"too big", mqttgame.Message{Topic: "big", Payload: make([]byte, 2000)}, mqttgame.ErrPayloadTooLarge, "the packet size is 2009, the maximum is 1024"},
		{"QoS above maximum", mqttgame.Message{Topic: "q", QoS: 2}, mqttgame.ErrInvalidQoS, "the QoS is 2, the highest allowed is 1"},
		{"retain unavailable", mqttgame.Message{Topic: "r", Retain: true}, mqttgame.ErrRetainUnavailable, "retain"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.PublishMessage(&tc.msg)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("err = %v, want %v saying %q", err, tc.want, tc.detail)
			}
		})
	}
	// The largest message that fits goes through: 1 byte of type, 2 of
	// length, 2+3 of topic, 2 of packet identifier, 1 of properties.
	payload := bytes.Repeat([]byte("x"), 1024-1-2-2-3-2-1)
	if _, err := c.Publish("fit", append(payload, 'x'), 1, false); !errors.Is(err, mqttgame.ErrPayloadTooLarge) {
		t.Fatalf("one byte over the limit: err = %v, want ErrPayloadTooLarge", err)
	}
	id, err := c.Publish("fit", payload, 1, false)
	if err != nil {
		t.Fatalf("a message of exactly 1024 bytes was refused: %v", err)
	}
	tickUntil(t, "exact fit delivered", func() bool { return sawEvent(c, mqttgame.EventDelivered, id) }, c)
}

// TestPoisonMessageGivesUp: a broker that does not announce its maximum
// packet size (mochi-mqtt alone) drops the connection when a message is
// over it, without saying why. The client gives up on that message after
// five tries instead of reconnecting and resending forever, and the next
// message goes through.
func TestPoisonMessageGivesUp(t *testing.T) {
	t.Parallel()
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumPacketSize = 1024
	url := serveMochi(t, caps, nil)

	c := newClient(t, url, func(o *mqttgame.Options) { o.ReconnectDelay = 5 * time.Millisecond })
	connect(t, c)
	poison, _ := c.Publish("big", make([]byte, 4000), 1, false)
	next, _ := c.PublishString("small", "after", 1, false)
	var failure error
	delivered := false
	tickUntil(t, "the poison message to fail and the next to go through", func() bool {
		for _, e := range eventsOf(c) {
			if e.Kind == mqttgame.EventPublishFailed && e.ID == poison {
				failure = e.Err
			}
			if e.Kind == mqttgame.EventDelivered && e.ID == next {
				delivered = true
			}
		}
		return failure != nil && delivered
	}, c)
	if !errors.Is(failure, mqttgame.ErrDropsConnection) {
		t.Fatalf("failure = %v, want ErrDropsConnection", failure)
	}
	if lost := c.Stats().ConnectionsLost; lost < 5 || lost > 6 {
		t.Errorf("ConnectionsLost = %d, want 5 tries (6 at most)", lost)
	}
}

// serveMochi serves a bare mochi-mqtt broker, without the limits and
// repairs of mqttgame/broker, on a loopback TCP port, with the given
// capabilities (nil: mochi's defaults), letting anyone in, and with the
// hook hook makes, if any. It returns the broker's URL.
func serveMochi(t *testing.T, caps *mqtt.Capabilities, hook func(*mqtt.Server) mqtt.Hook) string {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{Capabilities: caps, Logger: testLogger(t)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if hook != nil {
		if err := srv.AddHook(hook(srv), nil); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "mqtt://" + ln.Addr().String()
}

// kickOnPublish is a broker hook that ends the connection with a
// DISCONNECT of the given reason, instead of taking the message, the
// first times a message on topic arrives.
type kickOnPublish struct {
	mqtt.HookBase
	srv   *mqtt.Server
	topic string
	code  packets.Code
	times int

	mu    sync.Mutex
	kicks int
}

func (h *kickOnPublish) ID() string           { return "kick-on-publish" }
func (h *kickOnPublish) Provides(b byte) bool { return b == mqtt.OnPublish }

func (h *kickOnPublish) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.mu.Lock()
	kick := pk.TopicName == h.topic && h.kicks < h.times
	if kick {
		h.kicks++
	}
	h.mu.Unlock()
	if !kick {
		return pk, nil
	}
	_ = h.srv.DisconnectClient(cl, h.code)
	return pk, packets.ErrRejectPacket
}

// TestDropBlamesMessageOnlyWhenBrokerSaysSo: a broker that ends the
// connection right after a message, saying the packet was at fault
// (packet too large), makes the client give up on that message after a
// few tries; one that says it is shutting down, or that a node failed
// (implementation specific error), however often, does not: the message
// goes through once the broker takes it.
func TestDropBlamesMessageOnlyWhenBrokerSaysSo(t *testing.T) {
	t.Parallel()
	const maxTries = 3 // what the client gives a message the broker drops it for
	for _, tc := range []struct {
		code      packets.Code
		delivered bool
	}{
		{packets.ErrPacketTooLarge, false},
		{packets.ErrServerShuttingDown, true},
		{packets.ErrImplementationSpecificError, true}, // a broker node failing
	} {
		t.Run(tc.code.Reason, func(t *testing.T) {
			var kick *kickOnPublish
			url := serveMochi(t, nil, func(srv *mqtt.Server) mqtt.Hook {
				kick = &kickOnPublish{srv: srv, topic: "kick", code: tc.code, times: maxTries + 1}
				return kick
			})

			c := newClient(t, url, func(o *mqttgame.Options) {
				o.ReconnectDelay = 5 * time.Millisecond
				o.MaxReconnectDelay = 20 * time.Millisecond
			})
			connect(t, c)
			id, err := c.PublishString("kick", "again", 1, false)
			if err != nil {
				t.Fatal(err)
			}
			var outcome *mqttgame.Event
			tickUntil(t, "an outcome for the message", func() bool {
				for _, e := range eventsOf(c) {
					if e.ID == id && (e.Kind == mqttgame.EventDelivered || e.Kind == mqttgame.EventPublishFailed) {
						outcome = &e
					}
				}
				return outcome != nil
			}, c)
			kick.mu.Lock()
			kicks := kick.kicks
			kick.mu.Unlock()
			if tc.delivered {
				if outcome.Kind != mqttgame.EventDelivered || kicks != kick.times {
					t.Fatalf("outcome %v after %d kicks, want delivered after %d", outcome, kicks, kick.times)
				}
				return
			}
			if outcome.Kind != mqttgame.EventPublishFailed || !errors.Is(outcome.Err, mqttgame.ErrDropsConnection) || kicks != maxTries {
				t.Fatalf("outcome %v after %d kicks, want ErrDropsConnection after %d", outcome, kicks, maxTries)
			}
		})
	}
}

// TestPlainTextWarning: an unencrypted connection to anything but this
// machine draws a warning in the log; one to this machine does not.
func TestPlainTextWarning(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url  string
		warn bool
	}{
		{"ws://game.example.com/mqtt", true},
		{"mqtt://192.168.1.20", true},
		{"wss://game.example.com/mqtt", false},
		{"ws://localhost:8080/mqtt", false},
		{"ws://127.0.0.1:8080/mqtt", false},
		{"ws://[::1]:8080/mqtt", false},
	} {
		var logs bytes.Buffer
		c, err := mqttgame.New(&mqttgame.Options{Brokers: []string{tc.url}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		if got := strings.Contains(logs.String(), "unencrypted"); got != tc.warn {
			t.Errorf("%s: warned %v, want %v (log %q)", tc.url, got, tc.warn, logs.String())
		}
	}
}

//go:build !js

package mqttgame_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestQoSBothDirections publishes at each QoS to a subscriber at each QoS:
// every message arrives once, in order, at the lower of the two QoS, and
// each QoS 1 and 2 publish is reported delivered.
func TestQoSBothDirections(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	for pubQoS := mqttgame.QoS(0); pubQoS <= 2; pubQoS++ {
		for subQoS := mqttgame.QoS(0); subQoS <= 2; subQoS++ {
			t.Run(fmt.Sprintf("pub%d/sub%d", pubQoS, subQoS), func(t *testing.T) {
				topic := fmt.Sprintf("qos/%d/%d", pubQoS, subQoS)
				pub := newClient(t, b.URL(), nil)
				sub := newClient(t, b.URL(), nil)
				connect(t, pub)
				connect(t, sub)
				subscribe(t, sub, topic, mqttgame.SubscribeOptions{QoS: subQoS, DataLoss: mqttgame.FIFO})

				const n = 10
				ids := map[mqttgame.PublishID]bool{}
				for i := range n {
					id, err := pub.PublishString(topic, fmt.Sprint(i), pubQoS, false)
					if err != nil {
						t.Fatal(err)
					}
					ids[id] = true
				}
				var got []string
				delivered := func() int {
					n := 0
					for _, e := range eventsOf(pub) {
						if e.Kind == mqttgame.EventDelivered && ids[e.ID] {
							n++
						}
					}
					return n
				}
				tickUntil(t, "all messages", func() bool {
					if sub.OnMessage(topic) {
						m, _ := sub.Message(topic)
						if want := min(pubQoS, subQoS); m.QoS != want {
							t.Errorf("message QoS %d, want %d", m.QoS, want)
						}
						got = append(got, sub.LastMessage(topic))
					}
					return len(got) == n && (pubQoS == 0 || delivered() == n)
				}, pub, sub)
				for i, s := range got {
					if s != fmt.Sprint(i) {
						t.Fatalf("received %v, want 0..%d in order", got, n-1)
					}
				}
				if st := pub.Stats(); st.Delivered != n || st.PublishFailed != 0 || st.Queued != 0 || st.InFlight != 0 {
					t.Errorf("publisher stats %+v", st)
				}
			})
		}
	}
}

// TestBinaryPayloads sends every byte value, and a large random payload,
// and gets them back byte for byte.
func TestBinaryPayloads(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.DataLoss = mqttgame.FIFO })
	connect(t, c)
	subscribe(t, c, "bin/#", mqttgame.SubscribeOptions{QoS: 1})

	every := make([]byte, 256)
	for i := range every {
		every[i] = byte(i)
	}
	big := make([]byte, 200_000)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	payloads := [][]byte{every, big, {}, {0}, []byte("\xff\xfe invalid UTF-8 \xc3")}
	for i, p := range payloads {
		if _, err := c.Publish(fmt.Sprintf("bin/%d", i), p, 1, false); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string][]byte{}
	tickUntil(t, "binary payloads", func() bool {
		for _, m := range c.AppendMessages(nil, "bin/#") {
			got[m.Topic] = bytes.Clone(m.Payload)
			if s := c.LastMessage(m.Topic); s != string(m.Payload) {
				t.Errorf("LastMessage(%s) differs from Message.Payload", m.Topic)
			}
		}
		return len(got) == len(payloads)
	}, c)
	for i, p := range payloads {
		if g := got[fmt.Sprintf("bin/%d", i)]; !bytes.Equal(g, p) {
			t.Errorf("payload %d: got %d bytes, want %d, not equal", i, len(g), len(p))
		}
	}
}

// TestPublishCopiesPayload: the game may reuse its buffer at once.
func TestPublishCopiesPayload(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	c.Subscribe("copy", 0)
	buf := []byte("first")
	c.Publish("copy", buf, 0, false)
	copy(buf, "XXXXX")
	connect(t, c)
	tickUntil(t, "message", func() bool { _, ok := c.Message("copy"); return ok }, c)
	if got := c.LastMessage("copy"); got != "first" {
		t.Fatalf("got %q: the queued payload changed with the caller's buffer", got)
	}
}

// TestRetainedSetAndClear: a late subscriber gets the retained message
// with the retain flag; after ClearRetained a new subscriber gets none,
// and a live subscriber sees the value cleared.
func TestRetainedSetAndClear(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	pub := newClient(t, b.URL(), nil)
	connect(t, pub)
	id, _ := pub.PublishString("scores/alice", "1200", 1, true)
	tickUntil(t, "retained publish delivered", func() bool { return sawEvent(pub, mqttgame.EventDelivered, id) }, pub)

	late := newClient(t, b.URL(), nil)
	connect(t, late)
	subscribe(t, late, "scores/#", mqttgame.SubscribeOptions{QoS: 1})
	tickUntil(t, "retained message", func() bool { _, ok := late.Message("scores/alice"); return ok }, late)
	if m, _ := late.Message("scores/alice"); string(m.Payload) != "1200" || !m.Retain {
		t.Fatalf("got %q retain=%v, want \"1200\" with the retain flag", m.Payload, m.Retain)
	}

	id, err := pub.ClearRetained("scores/alice")
	if err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "clear delivered", func() bool { return sawEvent(pub, mqttgame.EventDelivered, id) }, pub)
	tickUntil(t, "live subscriber sees the value cleared", func() bool {
		return late.OnMessage("scores/alice") && late.LastMessage("scores/alice") == ""
	}, late)

	fresh := newClient(t, b.URL(), nil)
	connect(t, fresh)
	subscribe(t, fresh, "scores/#", mqttgame.SubscribeOptions{QoS: 1})
	// Anything retained is sent right after the SUBACK, so before a
	// message published once the subscription is in place.
	pub.PublishString("scores/marker", "m", 1, false)
	tickUntil(t, "marker", func() bool { return fresh.OnMessage("scores/marker") }, fresh, pub)
	if _, ok := fresh.Message("scores/alice"); ok {
		t.Fatal("a new subscriber got the retained message after it was cleared")
	}
}

// TestWill: the will is published when the connection is cut, not after a
// graceful Disconnect, and again after DisconnectWithWill.
func TestWill(t *testing.T) {
	t.Parallel()
	obs := newObserver()
	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{obs} }})
	watcher := newClient(t, b.URL(), func(o *mqttgame.Options) { o.DataLoss = mqttgame.FIFO })
	connect(t, watcher)
	subscribe(t, watcher, "presence/#", mqttgame.SubscribeOptions{QoS: 1})

	proxy := newProxy(t, b.Addr().String())
	player := func(name string) *mqttgame.Client {
		return newClient(t, "ws://"+proxy.Addr()+"/mqtt", func(o *mqttgame.Options) {
			o.ClientID = name
			o.Will = &mqttgame.Will{Topic: "presence/" + name, Payload: []byte("offline"), QoS: 1, Retain: true}
		})
	}

	t.Run("abrupt", func(t *testing.T) {
		p := player("abrupt")
		connect(t, p)
		proxy.Reset()
		tickUntil(t, "will after the connection was cut", func() bool {
			return watcher.OnMessage("presence/abrupt") && watcher.LastMessage("presence/abrupt") == "offline"
		}, watcher)
		tickUntil(t, "the player to notice", p.JustDisconnected, p)
		if !errors.Is(p.Err(), mqttgame.ErrConnectionLost) {
			t.Errorf("Err() = %v, want ErrConnectionLost", p.Err())
		}
		p.Disconnect()
	})

	t.Run("graceful", func(t *testing.T) {
		p := player("graceful")
		connect(t, p)
		before := obs.disconnects("graceful")
		p.Disconnect()
		tickUntil(t, "disconnected", p.JustDisconnected, p)
		waitUntil(t, "the broker to close the session", func() bool { return obs.disconnects("graceful") > before })
		// The broker publishes a will before it reports the disconnection,
		// so a marker sent now arrives after any will.
		watcher.PublishString("presence/marker", "m", 1, false)
		tickUntil(t, "marker", func() bool { return watcher.OnMessage("presence/marker") }, watcher)
		if _, ok := watcher.Message("presence/graceful"); ok {
			t.Fatal("a graceful Disconnect published the will")
		}
	})

	t.Run("with will", func(t *testing.T) {
		p := player("leaver")
		connect(t, p)
		p.DisconnectWithWill()
		tickUntil(t, "will after DisconnectWithWill", func() bool {
			return watcher.LastMessage("presence/leaver") == "offline"
		}, watcher)
		tickUntil(t, "disconnected", p.JustDisconnected, p)
		if p.Err() != nil {
			t.Errorf("a requested disconnect set Err() = %v", p.Err())
		}
	})
}

// TestDataLossModesTickByTick publishes 5 messages at once and looks at
// each tick: FIFO shows them on 5 consecutive ticks in order, latest-wins
// shows only the 5th and counts 4 dropped.
func TestDataLossModesTickByTick(t *testing.T) {
	t.Parallel()
	obs := newObserver()
	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{obs} }})
	pub := newClient(t, b.URL(), nil)
	connect(t, pub)

	for _, mode := range []mqttgame.DataLoss{mqttgame.FIFO, mqttgame.LatestWins} {
		t.Run(mode.String(), func(t *testing.T) {
			id := "sub-" + mode.String()
			sub := newClient(t, b.URL(), func(o *mqttgame.Options) { o.ClientID = id })
			connect(t, sub)
			topic := "mode/" + mode.String()
			subscribe(t, sub, topic, mqttgame.SubscribeOptions{QoS: 1, DataLoss: mode})

			before := obs.delivered(id)
			for i := 1; i <= 5; i++ {
				pub.PublishString(topic, fmt.Sprint(i), 1, false)
			}
			// The client acknowledges a message once it is staged: when the
			// broker has all 5 acknowledgements, all 5 wait for the next tick.
			waitUntil(t, "all 5 staged", func() bool { return obs.delivered(id) == before+5 })

			var ticks []string
			for range 6 {
				sub.Update()
				if sub.OnMessage(topic) {
					ticks = append(ticks, sub.LastMessage(topic))
				} else {
					ticks = append(ticks, "-")
				}
			}
			want := []string{"1", "2", "3", "4", "5", "-"}
			wantDropped := uint64(0)
			if mode == mqttgame.LatestWins {
				want = []string{"5", "-", "-", "-", "-", "-"}
				wantDropped = 4
			}
			if strings.Join(ticks, ",") != strings.Join(want, ",") {
				t.Fatalf("ticks showed %v, want %v", ticks, want)
			}
			if d := sub.Stats().DroppedReplaced; d != wantDropped {
				t.Errorf("DroppedReplaced = %d, want %d", d, wantDropped)
			}
		})
	}
}

// TestPerSubscriptionMode: one client, cursor positions latest-wins and
// chat FIFO, as a game would set them.
func TestPerSubscriptionMode(t *testing.T) {
	t.Parallel()
	obs := newObserver()
	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{obs} }})
	pub := newClient(t, b.URL(), nil)
	sub := newClient(t, b.URL(), func(o *mqttgame.Options) { o.ClientID = "mixed" })
	connect(t, pub)
	connect(t, sub)
	subscribe(t, sub, "cursor/#", mqttgame.SubscribeOptions{QoS: 1, DataLoss: mqttgame.LatestWins})
	subscribe(t, sub, "chat/#", mqttgame.SubscribeOptions{QoS: 1, DataLoss: mqttgame.FIFO})
	before := obs.delivered("mixed")
	for i := 1; i <= 3; i++ {
		pub.PublishString("cursor/bob", fmt.Sprint(i), 1, false)
		pub.PublishString("chat/lobby", fmt.Sprint(i), 1, false)
	}
	waitUntil(t, "all 6 staged", func() bool { return obs.delivered("mixed") == before+6 })
	var cursor, chat []string
	for range 3 {
		sub.Update()
		if sub.OnMessage("cursor/bob") {
			cursor = append(cursor, sub.LastMessage("cursor/bob"))
		}
		if sub.OnMessage("chat/lobby") {
			chat = append(chat, sub.LastMessage("chat/lobby"))
		}
	}
	if strings.Join(cursor, ",") != "3" || strings.Join(chat, ",") != "1,2,3" {
		t.Fatalf("cursor showed %v (want [3]), chat showed %v (want [1 2 3])", cursor, chat)
	}
}

// TestWildcardAndSharedDelivery: messages through +, # and shared
// subscriptions are kept under their own topics and can be read by filter.
func TestWildcardAndSharedDelivery(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	pub := newClient(t, b.URL(), nil)
	connect(t, pub)

	for _, filter := range []string{"players/+/pos", "players/#", "$share/room/players/+/pos"} {
		t.Run(filter, func(t *testing.T) {
			sub := newClient(t, b.URL(), nil)
			connect(t, sub)
			subscribe(t, sub, filter, mqttgame.SubscribeOptions{QoS: 1})
			pub.PublishString("players/1/pos", "10,20", 1, false)
			pub.PublishString("players/2/pos", "30,40", 1, false)
			var got []mqttgame.Message
			tickUntil(t, "both players", func() bool {
				got = sub.AppendMessages(got, "players/+/pos")
				return len(got) >= 2
			}, sub, pub)
			if sub.LastMessage("players/1/pos") != "10,20" || sub.LastMessage("players/2/pos") != "30,40" {
				t.Fatalf("by topic: %q and %q", sub.LastMessage("players/1/pos"), sub.LastMessage("players/2/pos"))
			}
			if got[0].Topic != "players/1/pos" || got[1].Topic != "players/2/pos" {
				t.Fatalf("AppendMessages gave topics %q, %q", got[0].Topic, got[1].Topic)
			}
			if s := sub.LastMessage("players/+/pos"); s != "30,40" {
				t.Errorf("LastMessage by filter = %q, want the newest", s)
			}
		})
	}
}

// TestReconnectRestoresSubscriptions restarts the broker, losing every
// session: the client reconnects by itself and its subscriptions work again.
// It runs alone: it restarts the broker on its port, which a test
// beside it could take.
func TestReconnectRestoresSubscriptions(t *testing.T) {
	b1, err := broker.Start(nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := b1.Addr().String()
	url := b1.URL()
	c := newClient(t, url, func(o *mqttgame.Options) { o.DataLoss = mqttgame.FIFO })
	connect(t, c)
	subscribe(t, c, "room/+/chat", mqttgame.SubscribeOptions{QoS: 1})
	subscribe(t, c, "room/state", mqttgame.SubscribeOptions{QoS: 0})

	b1.Close()
	tickUntil(t, "connection lost", c.JustDisconnected, c)
	if c.IsConnected() || c.IsSubscribed("room/state") {
		t.Fatal("still connected or subscribed after the broker went away")
	}
	b2 := startBroker(t, &broker.Options{Addr: addr})
	tickUntil(t, "reconnection", c.JustConnected, c)
	tickUntil(t, "subscriptions restored", func() bool {
		return c.IsSubscribed("room/+/chat") && c.IsSubscribed("room/state")
	}, c)

	other := newClient(t, b2.URL(), nil)
	connect(t, other)
	other.PublishString("room/1/chat", "back", 1, false)
	other.PublishString("room/state", "ok", 1, false)
	tickUntil(t, "messages after the restart", func() bool {
		return c.LastMessage("room/1/chat") == "back" && c.LastMessage("room/state") == "ok"
	}, c, other)
	if st := c.Stats(); st.Connects != 2 || st.ConnectionsLost != 1 {
		t.Errorf("Connects=%d ConnectionsLost=%d, want 2 and 1", st.Connects, st.ConnectionsLost)
	}
}

// TestPublishWhileDisconnected queues and sends after connecting; the
// outbox has a cap and says so; nothing accepted is lost.
func TestPublishWhileDisconnected(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	sub := newClient(t, b.URL(), func(o *mqttgame.Options) { o.DataLoss = mqttgame.FIFO })
	connect(t, sub)
	subscribe(t, sub, "queued", mqttgame.SubscribeOptions{QoS: 1})

	c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.OutboxSize = 3 })
	for i := range 3 {
		if _, err := c.PublishString("queued", fmt.Sprint(i), 1, false); err != nil {
			t.Fatalf("publish %d while disconnected: %v", i, err)
		}
	}
	if _, err := c.PublishString("queued", "3", 1, false); !errors.Is(err, mqttgame.ErrOutboxFull) {
		t.Fatalf("fourth publish: err = %v, want ErrOutboxFull", err)
	}
	c.Update()
	if st := c.Stats(); st.Queued != 3 {
		t.Fatalf("Queued = %d, want 3", st.Queued)
	}
	connect(t, c)
	var got []string
	tickUntil(t, "queued messages", func() bool {
		if sub.OnMessage("queued") {
			got = append(got, sub.LastMessage("queued"))
		}
		return len(got) == 3
	}, sub, c)
	if strings.Join(got, ",") != "0,1,2" {
		t.Fatalf("got %v, want [0 1 2]", got)
	}
}

// TestAuthRefusal: wrong credentials surface the broker's reason code,
// and so do ACL refusals of a subscription and a publish.
func TestAuthRefusal(t *testing.T) {
	t.Parallel()
	ledger := &auth.Ledger{
		Auth: auth.AuthRules{{Username: "alice", Password: "secret", Allow: true}},
		ACL: auth.ACLRules{{
			Username: "alice",
			Filters:  auth.Filters{"private/#": auth.Deny, "open/#": auth.ReadWrite},
		}},
	}
	hook := new(auth.Hook)
	b := startBroker(t, &broker.Options{Mochi: func(*mqtt.Server) []mqtt.Hook {
		return []mqtt.Hook{hookWithConfig{hook, &auth.Options{Ledger: ledger}}}
	}})

	t.Run("bad password", func(t *testing.T) {
		c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.Username = "alice"; o.Password = "wrong" })
		c.Connect()
		tickUntil(t, "refusal", c.ConnectFailed, c)
		err := c.Err()
		if !errors.Is(err, mqttgame.ReasonBadUsernameOrPassword) {
			t.Fatalf("Err() = %v, want ReasonBadUsernameOrPassword", err)
		}
		var be *mqttgame.BrokerError
		if !errors.As(err, &be) || be.Code != 0x86 || be.Op != "connect" {
			t.Fatalf("Err() = %#v, want a *BrokerError with code 0x86", err)
		}
		var ce *mqttgame.ConnectError
		if !errors.As(err, &ce) || ce.URL != b.URL() {
			t.Fatalf("Err() = %v, want a *ConnectError naming %s", err, b.URL())
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("the error shows the password: %v", err)
		}
		c.ClearErr()
		if c.Err() != nil {
			t.Fatal("ClearErr did not clear")
		}
	})

	t.Run("not authorized", func(t *testing.T) {
		c := newClient(t, b.URL(), func(o *mqttgame.Options) { o.Username = "alice"; o.Password = "secret" })
		connect(t, c)
		c.Subscribe("private/x", 1)
		tickUntil(t, "subscription refused", func() bool { return sawEvent(c, mqttgame.EventSubscribeFailed, 0) }, c)
		if !errors.Is(c.Err(), mqttgame.ReasonNotAuthorized) {
			t.Fatalf("Err() = %v, want ReasonNotAuthorized", c.Err())
		}
		if got := c.Subscriptions(); len(got) != 0 {
			t.Errorf("a refused subscription is still listed: %v", got)
		}
		id, _ := c.PublishString("private/x", "forged", 1, false)
		tickUntil(t, "publish refused", func() bool { return sawEvent(c, mqttgame.EventPublishFailed, id) }, c)
		if !errors.Is(c.Err(), mqttgame.ReasonNotAuthorized) {
			t.Fatalf("Err() = %v, want ReasonNotAuthorized", c.Err())
		}
		if !c.IsConnected() {
			t.Fatal("a refused publish dropped the connection")
		}
	})
}

// hookWithConfig lets broker.Options.Mochi return a hook that needs its config.
type hookWithConfig struct {
	mqtt.Hook
	config any
}

func (h hookWithConfig) Init(any) error { return h.Hook.Init(h.config) }

// TestConnectFailureFlags: a broker that is not there makes ConnectFailed
// true, with an error matching ErrUnreachable, and the client keeps trying.
// It runs before the parallel tests, which could take the freed port.
func TestConnectFailureFlags(t *testing.T) {
	b := startBroker(t, nil)
	url := b.URL()
	b.Close()
	c := newClient(t, url, func(o *mqttgame.Options) { o.ReconnectDelay = time.Millisecond })
	c.Connect()
	tickUntil(t, "two failed attempts", func() bool {
		return c.ConnectFailed() && errors.Is(c.Err(), mqttgame.ErrUnreachable) && c.Stats().Connects == 0 && countFailures(c) >= 1
	}, c)
	var ce *mqttgame.ConnectError
	if !errors.As(c.Err(), &ce) || ce.URL != url {
		t.Fatalf("Err() = %v, want a *ConnectError for %s", c.Err(), url)
	}
	if c.IsConnected() || c.JustConnected() {
		t.Fatal("connected to nothing")
	}
}

func countFailures(c *mqttgame.Client) int {
	n := 0
	for _, e := range eventsOf(c) {
		if e.Kind == mqttgame.EventConnectFailed {
			n++
		}
	}
	return n
}

// TestTickFlags: JustConnected and JustDisconnected hold for exactly one tick.
func TestTickFlags(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	c.Connect()
	tickUntil(t, "connected", c.JustConnected, c)
	if !c.IsConnected() {
		t.Fatal("JustConnected without IsConnected")
	}
	c.Update()
	if c.JustConnected() || !c.IsConnected() {
		t.Fatal("JustConnected held for a second tick")
	}
	c.Disconnect()
	tickUntil(t, "disconnected", c.JustDisconnected, c)
	if c.IsConnected() {
		t.Fatal("JustDisconnected while IsConnected")
	}
	c.Update()
	if c.JustDisconnected() {
		t.Fatal("JustDisconnected held for a second tick")
	}
	// And again: Disconnect then Connect works.
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "connected again", c.JustConnected, c)
}

// TestConnectDisconnectCycleKeepsSubscriptions: subscriptions made before
// Disconnect are in force after the next Connect.
func TestConnectDisconnectCycleKeepsSubscriptions(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	connect(t, c)
	subscribe(t, c, "cycle", mqttgame.SubscribeOptions{QoS: 1})
	c.Disconnect()
	tickUntil(t, "disconnected", c.JustDisconnected, c)
	connect(t, c)
	tickUntil(t, "subscription restored", func() bool { return c.IsSubscribed("cycle") }, c)
	c.PublishString("cycle", "again", 1, false)
	tickUntil(t, "message", func() bool { return c.LastMessage("cycle") == "again" }, c)
}

// TestUnsubscribe: after the broker confirms, messages stop.
func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	connect(t, c)
	subscribe(t, c, "a", mqttgame.SubscribeOptions{QoS: 1})
	subscribe(t, c, "marker", mqttgame.SubscribeOptions{QoS: 1})
	c.Unsubscribe("a")
	tickUntil(t, "unsubscribed", func() bool { return sawEvent(c, mqttgame.EventUnsubscribed, 0) }, c)
	if c.IsSubscribed("a") {
		t.Fatal("IsSubscribed after unsubscribing")
	}
	c.PublishString("a", "late", 1, false)
	c.PublishString("marker", "m", 1, false)
	tickUntil(t, "marker", func() bool { return c.OnMessage("marker") }, c)
	if _, ok := c.Message("a"); ok {
		t.Fatal("a message arrived after unsubscribing")
	}
	c.UnsubscribeAll()
	if got := c.Subscriptions(); len(got) != 0 {
		t.Fatalf("Subscriptions() = %v after UnsubscribeAll", got)
	}
}

// TestProperties: MQTT v5 properties travel with the message.
func TestProperties(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	connect(t, c)
	subscribe(t, c, "props", mqttgame.SubscribeOptions{QoS: 2, SubscriptionID: 42})
	sent := &mqttgame.Message{
		Topic: "props", Payload: []byte(`{"x":1}`), QoS: 2,
		ContentType: "application/json", ResponseTopic: "reply/me",
		CorrelationData: []byte{1, 2, 3}, PayloadUTF8: true, Expiry: time.Hour,
		UserProperties: []mqttgame.UserProperty{{"k", "v"}, {"k", "v2"}},
	}
	if _, err := c.PublishMessage(sent); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "message", func() bool { return c.OnMessage("props") }, c)
	m, _ := c.Message("props")
	if m.ContentType != sent.ContentType || m.ResponseTopic != sent.ResponseTopic ||
		!bytes.Equal(m.CorrelationData, sent.CorrelationData) || !m.PayloadUTF8 ||
		m.Expiry <= 0 || m.Expiry > time.Hour || m.SubscriptionID != 42 || m.QoS != 2 ||
		len(m.UserProperties) != 2 || m.UserProperties[1] != (mqttgame.UserProperty{"k", "v2"}) {
		t.Fatalf("received %+v", m)
	}
}

// TestSessionTakeover: a second client with the same ID pushes the first
// off; the first reports it and does not push back.
func TestSessionTakeover(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	first := newClient(t, b.URL(), func(o *mqttgame.Options) { o.ClientID = "same" })
	connect(t, first)
	second := newClient(t, b.URL(), func(o *mqttgame.Options) { o.ClientID = "same" })
	connect(t, second)
	tickUntil(t, "takeover reported", first.JustDisconnected, first)
	if !errors.Is(first.Err(), mqttgame.ReasonSessionTakenOver) {
		t.Fatalf("Err() = %v, want ReasonSessionTakenOver", first.Err())
	}
	// The first stays off: the second keeps its connection.
	second.PublishString("still/here", "x", 1, false)
	second.Subscribe("still/here", 1)
	tickUntil(t, "second still works", func() bool { return second.OnMessage("still/here") || sawEvent(second, mqttgame.EventDelivered, 0) }, second, first)
	if first.IsConnected() || !second.IsConnected() || second.Stats().ConnectionsLost != 0 {
		t.Fatalf("first connected=%v, second connected=%v lost=%d", first.IsConnected(), second.IsConnected(), second.Stats().ConnectionsLost)
	}
}

// TestClose: Close ends everything and Connect fails afterwards.
func TestClose(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	c := newClient(t, b.URL(), nil)
	connect(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(); !errors.Is(err, mqttgame.ErrClosed) {
		t.Fatalf("Connect after Close = %v, want ErrClosed", err)
	}
}

package presence_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/netfault"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
	"github.com/mqttgame/mqttgame/mqttgame/segment"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	room = "game/lobby/presence"
)

// player is a client with a roster, as a game would have them.
type player struct {
	c      *mqttgame.Client
	r      *presence.Roster
	events []presence.Event // every event its ticks showed
}

func newPlayer(t *testing.T, url, name string, delay time.Duration) *player {
	t.Helper()
	return newPlayerWith(t, url, presence.Config{Topic: room, ID: segment.Escape(name), Name: name, Color: "#336699", WillDelay: delay})
}

// newPlayerWith makes a player with cfg, connected to url.
func newPlayerWith(t *testing.T, url string, cfg presence.Config) *player {
	t.Helper()
	opts := mqttgame.Options{Brokers: []string{url}, ClientID: "presence-test-" + cfg.ID, ReconnectDelay: 50 * time.Millisecond}
	if err := presence.Prepare(&opts, cfg); err != nil {
		t.Fatal(err)
	}
	c := mqtttest.NewClient(t, &opts)
	r, err := presence.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	return &player{c: c, r: r}
}

func (p *player) tick() {
	p.c.Update()
	p.r.Update()
	p.events = p.r.AppendEvents(p.events)
}

// saw reports whether p saw an event of this kind about the player named.
func (p *player) saw(kind presence.EventKind, name string) bool {
	for _, e := range p.events {
		if e.Kind == kind && e.Player.Name == name {
			return true
		}
	}
	return false
}

func (p *player) online(name string) bool {
	for _, q := range p.r.AppendOnline(nil) {
		if q.Name == name {
			return true
		}
	}
	return false
}

// tickUntil runs the players' ticks, as game loops would, until cond
// holds, failing the test after mqtttest.WaitFor.
func tickUntil(t *testing.T, what string, cond func() bool, ps ...*player) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		for _, p := range ps {
			p.tick()
		}
	}, cond, nil)
}

// TestJoinAndLeave: two players see each other join; one quits on purpose
// and the other sees it leave, through the will.
func TestJoinAndLeave(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	ann := newPlayer(t, b.URL(), "ann", 0)
	tickUntil(t, "ann sees herself online", func() bool { return ann.online("ann") }, ann)
	bob := newPlayer(t, b.URL(), "bob", 0)
	tickUntil(t, "each sees the other", func() bool {
		return ann.saw(presence.Joined, "bob") && bob.saw(presence.Joined, "ann")
	}, ann, bob)

	for _, e := range ann.events {
		if e.Player.Name == "bob" && e.Replay {
			t.Error("bob came after ann, yet ann's event about him is a replay")
		}
	}
	for _, e := range bob.events {
		if e.Player.Name == "ann" && !e.Replay {
			t.Error("ann was there before bob, yet bob's event about her is not a replay")
		}
	}
	if p, _ := ann.r.Player("bob"); p.Since.IsZero() || p.Color != "#336699" || !p.Online {
		t.Errorf("ann's record of bob: %+v", p)
	}
	if got := ann.r.Online(); got != 2 {
		t.Errorf("ann sees %d online, want 2", got)
	}

	if err := bob.r.Leave(); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "ann sees bob leave", func() bool { return ann.saw(presence.Left, "bob") }, ann, bob)
	if ann.online("bob") {
		t.Error("bob still listed online after leaving")
	}
	if p, ok := ann.r.Player("bob"); !ok || p.Seen.IsZero() {
		t.Errorf("bob's offline record: %+v, %v; want one with the time it was seen", p, ok)
	}
	if err := bob.r.Leave(); err != presence.ErrLeft {
		t.Errorf("second Leave: %v, want ErrLeft", err)
	}
}

// TestAbruptLossThroughWill: a player whose network is cut goes offline
// for the others through the will, after the will delay, and a newcomer
// finds the offline record retained.
func TestAbruptLossThroughWill(t *testing.T) {
	t.Parallel()
	b, srv := mqtttest.StartMochi(t, nil)
	proxy := newProxy(t, b.Addr().String())
	ann := newPlayer(t, b.URL(), "ann", 0)
	bob := newPlayer(t, "ws://"+proxy.Addr()+"/mqtt", "bob", time.Second)
	tickUntil(t, "ann sees bob", func() bool { return ann.online("bob") }, ann, bob)

	proxy.Close() // every connection reset, and bob cannot come back
	cut := time.Now()
	tickUntil(t, "ann sees bob leave", func() bool { return ann.saw(presence.Left, "bob") }, ann, bob)
	if d := time.Since(cut); d < time.Second {
		t.Errorf("bob's will came %v after the cut, before its 1s delay", d)
	}

	// mochi-mqtt sends a delayed will to the subscribers a moment before
	// it retains it; a newcomer comes once the broker holds it.
	waitRetained(t, srv, room+"/bob", `"online":false`)
	carol := newPlayer(t, b.URL(), "carol", 0)
	tickUntil(t, "carol's snapshot", func() bool { return carol.online("ann") && carol.online("carol") }, carol)
	tickUntil(t, "carol knows bob", func() bool { _, ok := carol.r.Player("bob"); return ok }, carol)
	p, _ := carol.r.Player("bob")
	if p.Online || !p.Seen.IsZero() {
		t.Errorf("carol's record of bob: %+v; want offline since before she came (Seen zero)", p)
	}
	if carol.saw(presence.Joined, "bob") || carol.saw(presence.Left, "bob") {
		t.Error("carol got an event about bob, who was gone before she came")
	}
}

// TestQuickReconnectDoesNotFlicker: a player whose connection drops and
// comes back within the will delay never shows as offline.
func TestQuickReconnectDoesNotFlicker(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	proxy := newProxy(t, b.Addr().String())
	ann := newPlayer(t, b.URL(), "ann", 0)
	bob := newPlayer(t, "ws://"+proxy.Addr()+"/mqtt", "bob", 2*time.Second)
	tickUntil(t, "ann sees bob", func() bool { return ann.online("bob") }, ann, bob)

	proxy.Reset()
	tickUntil(t, "bob reconnects", bob.c.JustConnected, ann, bob)
	// mochi-mqtt publishes a will within a second after its delay; watch
	// past that.
	mqtttest.TickFor(4*time.Second, func() {
		ann.tick()
		bob.tick()
		if !ann.online("bob") {
			t.Fatal("bob showed offline though he came back within the will delay")
		}
	})
	if ann.saw(presence.Left, "bob") {
		t.Fatal("ann saw bob leave")
	}
}

// TestNameIsOnlyPayload: a name full of topic syntax changes no topic: the
// player's record is where its escaped ID says, and no other topic is
// touched.
func TestNameIsOnlyPayload(t *testing.T) {
	t.Parallel()
	b := mqtttest.StartBroker(t, nil)
	spy := mqtttest.NewClient(t, &mqttgame.Options{Brokers: []string{b.URL()}, DataLoss: mqttgame.FIFO})
	spy.Connect()
	spy.Subscribe("#", mqttgame.AtLeastOnce)
	mqtttest.TickUntil(t, "spy subscribed", spy.Update, func() bool { return spy.IsSubscribed("#") }, nil)

	const evil = "bob/../#/+/$SYS"
	mallory := newPlayer(t, b.URL(), evil, 0)
	topics := map[string]bool{}
	want := room + "/" + segment.Escape(evil)
	tickUntil(t, "the evil name's record, seen by the spy and its owner", func() bool {
		spy.Update()
		for _, m := range spy.AppendMessages(nil, "#") {
			topics[m.Topic] = true
		}
		return topics[want] && mallory.online(evil)
	}, mallory)
	for topic := range topics {
		if topic != want {
			t.Errorf("the player wrote to %q; only %q expected", topic, want)
		}
	}
	if strings.Count(want, "/") != strings.Count(room, "/")+1 {
		t.Errorf("record topic %q is not one level under the room", want)
	}
}

func TestConfigChecks(t *testing.T) {
	t.Parallel()
	for _, cfg := range []presence.Config{
		{Topic: "room", ID: "a/b"},
		{Topic: "room", ID: ""},
		{Topic: "room", ID: "#"},
		{Topic: "room/#", ID: "ann"},
	} {
		var o mqttgame.Options
		if err := presence.Prepare(&o, cfg); err == nil {
			t.Errorf("Prepare accepted %+v", cfg)
		}
	}
	var o mqttgame.Options
	if err := presence.Prepare(&o, presence.Config{Topic: "room", ID: "ann", WillDelay: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if o.Will == nil || !o.Will.Retain || o.Will.Topic != "room/ann" || o.Will.Delay != 3*time.Second {
		t.Errorf("will: %+v", o.Will)
	}
	if o.SessionExpiry <= 3*time.Second {
		t.Errorf("SessionExpiry %v does not outlast the will delay", o.SessionExpiry)
	}
}

// waitRetained waits until the broker's retained message on topic
// contains want.
func waitRetained(t *testing.T, srv *mqtt.Server, topic, want string) {
	t.Helper()
	mqtttest.TickUntil(t, fmt.Sprintf("the broker to retain %q on %s", want, topic), nil, func() bool {
		pk, ok := srv.Topics.Retained.Get(topic)
		return ok && strings.Contains(string(pk.Payload), want)
	}, nil)
}

// newProxy starts a proxy to target that can reset every connection at
// once, as a network failure would; it closes when the test ends.
func newProxy(t *testing.T, target string) *netfault.Proxy {
	t.Helper()
	p, err := netfault.New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

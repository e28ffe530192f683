package mqttgame

import (
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

func aliasOf(p *packets.Publish) uint16 {
	if p.Properties == nil || p.Properties.TopicAlias == nil {
		return 0
	}
	return *p.Properties.TopicAlias
}

// TestTopicAliasesOutgoing: the first topics get aliases up to the lower
// of the two maximums, the name goes only with the first use, QoS 1 and 2
// never use one, and a new connection starts over.
func TestTopicAliasesOutgoing(t *testing.T) {
	t.Parallel()
	a := newTopicAliases(2)
	a.reset()
	a.connected(10, 0)
	type want struct {
		topic string
		alias uint16
	}
	cases := []struct {
		topic string
		qos   byte
		want  want
	}{
		{"pos/a", 0, want{"pos/a", 1}},
		{"pos/a", 0, want{"", 1}},
		{"pos/b", 0, want{"pos/b", 2}},
		{"pos/c", 0, want{"pos/c", 0}}, // over the client's limit of 2
		{"pos/b", 0, want{"", 2}},
		{"pos/a", 1, want{"pos/a", 0}}, // QoS 1: by name
		{"pos/a", 2, want{"pos/a", 0}},
		{"abc", 0, want{"abc", 0}}, // no shorter with an alias
	}
	for i, tc := range cases {
		p := &packets.Publish{Topic: tc.topic, QoS: tc.qos}
		a.outgoing(p)
		if got := (want{p.Topic, aliasOf(p)}); got != tc.want {
			t.Errorf("publish %d to %q at QoS %d: sent topic %q alias %d, want %q alias %d", i, tc.topic, tc.qos, got.topic, got.alias, tc.want.topic, tc.want.alias)
		}
	}

	a.reset()
	p := &packets.Publish{Topic: "pos/a"}
	a.outgoing(p)
	if p.Topic != "pos/a" || aliasOf(p) != 0 {
		t.Fatalf("before CONNACK: topic %q alias %d, want the name alone", p.Topic, aliasOf(p))
	}
	a.connected(1, 0) // the broker allows fewer than the client would use
	for i, w := range []want{{"pos/b", 1}, {"", 1}} {
		p := &packets.Publish{Topic: "pos/b"}
		a.outgoing(p)
		if got := (want{p.Topic, aliasOf(p)}); got != w {
			t.Errorf("new connection, publish %d: topic %q alias %d, want %q alias %d", i, got.topic, got.alias, w.topic, w.alias)
		}
	}
	p = &packets.Publish{Topic: "pos/c"}
	a.outgoing(p)
	if aliasOf(p) != 0 {
		t.Errorf("got alias %d past the broker's maximum of 1", aliasOf(p))
	}

	// A publish that fits the broker's maximum packet size by name, but
	// would not with the alias property added, goes by name.
	a.reset()
	fits := &packets.Publish{Topic: "pos/a", Payload: make([]byte, 100)}
	size := packetSize(fits)
	a.connected(10, size+2)
	a.outgoing(fits)
	if aliasOf(fits) != 0 || fits.Topic != "pos/a" {
		t.Errorf("a %d-byte publish got an alias under a %d-byte limit", size, size+2)
	}
	a.connected(10, size+3)
	a.outgoing(fits)
	if aliasOf(fits) != 1 {
		t.Errorf("a %d-byte publish got no alias under a %d-byte limit", size, size+3)
	}
}

// TestTopicAliasesIncoming: an alias set by the broker resolves until the
// next connection; unknown and out-of-range aliases are refused.
func TestTopicAliasesIncoming(t *testing.T) {
	t.Parallel()
	a := newTopicAliases(3)
	a.reset()
	pub := func(topic string, alias uint16) *packets.Publish {
		p := &packets.Publish{Topic: topic, Properties: &packets.Properties{}}
		if alias != 0 {
			p.Properties.TopicAlias = &alias
		}
		return p
	}
	check := func(p *packets.Publish, wantTopic string, wantOK bool) {
		t.Helper()
		if topic, ok := a.incoming(p); topic != wantTopic || ok != wantOK {
			t.Errorf("incoming(topic %q alias %d) = %q, %v; want %q, %v", p.Topic, aliasOf(p), topic, ok, wantTopic, wantOK)
		}
	}
	check(pub("plain", 0), "plain", true)
	check(pub("", 1), "", false) // never set
	check(pub("x/1", 1), "x/1", true)
	check(pub("", 1), "x/1", true)
	check(pub("x/2", 1), "x/2", true) // the broker moves an alias
	check(pub("", 1), "x/2", true)
	check(pub("y", 4), "", false) // over the announced maximum
	check(pub("y", 0), "y", true)
	a.reset()
	check(pub("", 1), "", false) // gone with the connection
}

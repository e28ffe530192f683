package mqttgame

import (
	"sync"

	"github.com/eclipse/paho.golang/packets"
)

// topicAliases holds the MQTT v5 topic aliases of one connection, both
// ways. An alias stands for a topic name in a PUBLISH, so a topic sent
// many times costs two bytes instead of its name. Aliases are valid for
// one connection only: the table starts empty at each new one.
//
// Outgoing, the first topics published at QoS 0 get the aliases the
// broker allows (its CONNACK Topic Alias Maximum, capped by
// Options.TopicAliases), for the rest of the connection; later topics go
// by name. QoS 1 and 2 messages never use one: they may be sent again on
// a later connection, where the alias would mean nothing. An alias costs
// 3 bytes, so topics of 3 bytes or less keep their name, and the publish
// that sets an alias must still fit the broker's maximum packet size.
//
// Incoming, the broker sets an alias with a message that has both, then
// sends the alias alone; the table gives the topic back.
type topicAliases struct {
	mu     sync.Mutex
	limit  int               // Options.TopicAliases
	outMax int               // aliases the client may use on this connection
	maxPkt int               // the broker's maximum packet size; 0: none
	out    map[string]uint16 // topic → alias, outgoing
	in     map[uint16]string // alias → topic, incoming
}

func newTopicAliases(limit int) *topicAliases {
	return &topicAliases{limit: limit, out: map[string]uint16{}, in: map[uint16]string{}}
}

// reset forgets every alias, for a new connection; none go out until
// connected says how many the broker allows.
func (a *topicAliases) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outMax = 0
	clear(a.out)
	clear(a.in)
}

// connected records the broker's Topic Alias Maximum and maximum packet
// size (0: none).
func (a *topicAliases) connected(brokerMax uint16, maxPacket int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.outMax = min(a.limit, int(brokerMax))
	a.maxPkt = maxPacket
}

// aliasCost is what a Topic Alias property adds to a PUBLISH.
const aliasCost = 3

// outgoing gives a QoS 0 publish its topic's alias, and the topic name
// only the first time.
func (a *topicAliases) outgoing(p *packets.Publish) {
	if a.limit == 0 || p.QoS != 0 || len(p.Topic) <= aliasCost || (p.Properties != nil && p.Properties.TopicAlias != nil) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	alias, known := a.out[p.Topic]
	if !known {
		if len(a.out) >= a.outMax || (a.maxPkt > 0 && packetSize(p)+aliasCost > a.maxPkt) {
			return
		}
		alias = uint16(len(a.out) + 1)
		a.out[p.Topic] = alias
	}
	if p.Properties == nil {
		p.Properties = &packets.Properties{}
	}
	p.Properties.TopicAlias = &alias
	if known {
		p.Topic = ""
	}
}

// incoming returns the topic of a received publish, resolving its alias;
// ok is false for an alias the broker never set or may not use.
func (a *topicAliases) incoming(p *packets.Publish) (topic string, ok bool) {
	if p.Properties == nil || p.Properties.TopicAlias == nil {
		return p.Topic, true
	}
	alias := *p.Properties.TopicAlias
	if alias == 0 || int(alias) > a.limit {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.Topic != "" {
		a.in[alias] = p.Topic
		return p.Topic, true
	}
	topic, ok = a.in[alias]
	return topic, ok
}

// packetSize returns the encoded size of a PUBLISH.
func packetSize(p *packets.Publish) int {
	var n byteCounter
	_, _ = p.WriteTo(&n)
	return int(n)
}

type byteCounter int

func (c *byteCounter) Write(b []byte) (int, error) {
	*c += byteCounter(len(b))
	return len(b), nil
}

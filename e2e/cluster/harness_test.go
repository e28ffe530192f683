package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/gamepeer"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// waitFor bounds every wait for something the network should do; the
// machine may be busy with other tests.
const waitFor = 15 * time.Second

// env is what a case runs in: a bed, a transport, a topic prefix.
type env struct {
	*testing.T
	bedName, transport, caseName string
	prefix                       string
	bed                          bed
	*casematrix.Case
	gamepeer.Waits // each bounded by waitFor, unless UntilWithin's limit
}

// newEnv makes the env of c, on bed b.
func newEnv(t *testing.T, c *casematrix.Case, b bed) *env {
	e := &env{T: t, bedName: c.Target, transport: c.Transport, caseName: c.Cell.Case, bed: b, Case: c, Waits: gamepeer.Waits{T: t, Limit: waitFor}}
	e.prefix = fmt.Sprintf("cl-%s-%s-%s", e.bedName, e.transport, strings.ReplaceAll(e.caseName, "_", "-"))
	return e
}

func (e *env) topic(rel string) string { return e.prefix + "/" + rel }
func (e *env) id(name string) string   { return e.prefix + "-" + name }

// peer is a client of the case, ticked as a game loop would; its
// Payloads leave out ready's probes.
type peer = gamepeer.Peer

// client makes a peer of node (0 for A, 1 for B) over the case's
// transport, with FIFO delivery so that every message is seen.
func (e *env) client(node int, name string, edit func(*mqttgame.Options)) *peer {
	return e.clientAt([]string{e.bed.url(node, e.transport)}, name, edit)
}

// clientAt makes a peer with the given broker URLs.
func (e *env) clientAt(urls []string, name string, edit func(*mqttgame.Options)) *peer {
	e.Helper()
	user, password := e.bed.login()
	o := &mqttgame.Options{
		Brokers:        urls,
		ClientID:       e.id(name),
		Username:       user,
		Password:       password,
		DataLoss:       mqttgame.FIFO,
		TopicQueueSize: 1024,
		ReconnectDelay: 50 * time.Millisecond,
		Logger:         gamepeer.Logger(e.T, name, 20000),
	}
	if edit != nil {
		edit(o)
	}
	c := mqtttest.NewClient(e.T, o)
	p := gamepeer.New(c, name)
	p.Ignore = probe
	return p
}

// subscribe subscribes the peer at qos and waits for the broker's grant.
func (e *env) subscribe(p *peer, filter string, qos mqttgame.QoS) {
	e.Helper()
	e.Subscribe(p, filter, mqttgame.SubscribeOptions{QoS: qos})
}

func (e *env) publish(p *peer, topic, payload string, qos mqttgame.QoS, retain bool) mqttgame.PublishID {
	e.Helper()
	id, err := p.PublishString(topic, payload, qos, retain)
	if err != nil {
		e.Fatalf("%s: publish to %s: %v", p.Name, topic, err)
	}
	return id
}

// delivered waits until the peer has no publish queued or in flight,
// and none failed.
func (e *env) delivered(p *peer) {
	e.Helper()
	e.Until(p.Name+"'s publishes delivered", func() bool {
		if p.Count(mqttgame.EventPublishFailed, "") > 0 {
			ev, _ := p.Last(mqttgame.EventPublishFailed)
			e.Fatalf("%s: %v", p.Name, ev)
		}
		s := p.Stats()
		return s.Queued == 0 && s.InFlight == 0
	}, p)
}

const probe = "ready?"

// ready makes sure a subscription of sub, made on one node, is in force
// on the other before the case publishes there: from publishes probes to
// topic until sub shows one. (A cluster or a bridge spreads a new
// subscription in its own time.)
func (e *env) ready(from, sub *peer, topic string) {
	e.Helper()
	n := 0
	e.Until(sub.Name+"'s subscription reaching "+from.Name+"'s node", func() bool {
		for _, m := range sub.Msgs {
			if m.Topic == topic && string(m.Payload) == probe {
				return true
			}
		}
		if n%100 == 0 {
			e.publish(from, topic, probe, 0, false)
		}
		n++
		return false
	}, from, sub)
}

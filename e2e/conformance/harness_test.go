package conformance

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/casematrix"
	"github.com/mqttgame/mqttgame/internal/gamepeer"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// waitFor bounds every wait for something the network should do.
const waitFor = 10 * time.Second

// TestConformance runs every case on every broker over every transport,
// as TestConformance/<broker>/<transport>/<case>. Cases run in parallel:
// each has its own topic prefix and client IDs.
func TestConformance(t *testing.T) {
	byName := map[string]caseDef{}
	for _, c := range cases {
		byName[c.name] = c
	}
	matrix.Each(t, caseNames(), func(t *testing.T, cell casematrix.Cell) {
		e := &env{T: t, broker: cell.Target, transport: cell.Transport, caseName: cell.Case, Waits: gamepeer.Waits{T: t, Limit: waitFor}}
		e.prefix = fmt.Sprintf("ct-%s-%s-%s", cell.Target, cell.Transport, strings.ReplaceAll(cell.Case, "_", "-"))
		e.srv = shared(t, cell.Target)
		srv := e.srv
		e.Case = results.Start(t, cell)
		// Checked after the clients closed (cleanups run last first).
		t.Cleanup(func() { srv.check(t) })
		byName[cell.Case].run(e)
	})
}

// env is what a case runs in: a broker, a transport, a topic prefix.
type env struct {
	*testing.T
	broker, transport, caseName string
	prefix                      string
	srv                         server // the shared broker, or the case's own
	*casematrix.Case
	gamepeer.Waits // each bounded by waitFor
}

// topic returns a topic of the case: its prefix, then rel.
func (e *env) topic(rel string) string { return e.prefix + "/" + rel }

// id returns a client identifier of the case.
func (e *env) id(name string) string { return e.prefix + "-" + name }

// own starts a broker of the case's kind with limits of its own, closed
// when the case ends, and makes it the case's broker.
func (e *env) own(l limits) server {
	e.Helper()
	s, err := startServer(e.broker, l)
	if err != nil {
		e.Fatalf("start %s: %v", e.broker, err)
	}
	e.Cleanup(func() { s.check(e.T); s.close() })
	e.srv = s
	return s
}

// relay starts a relay in front of the case's broker.
func (e *env) relay() *relay { return newRelay(e.T, e.transport, e.srv.target(e.transport)) }

// peer is a client of the case, ticked by the case as a game loop
// would; its QoS holds the QoS of each publish the case made.
type peer = gamepeer.Peer

// client makes a peer connected (or not) to the case's broker over the
// case's transport, with FIFO delivery so that every message is seen,
// and the given changes to its options. It closes when the case ends.
func (e *env) client(name string, edit func(*mqttgame.Options)) *peer {
	return e.clientAt(e.srv.URL(e.transport), name, edit)
}

// clientAt is client with another broker URL (a relay's).
func (e *env) clientAt(url, name string, edit func(*mqttgame.Options)) *peer {
	e.Helper()
	o := &mqttgame.Options{
		Brokers:        []string{url},
		ClientID:       e.id(name),
		DataLoss:       mqttgame.FIFO,
		ReconnectDelay: 50 * time.Millisecond,
		Logger:         gamepeer.Logger(e.T, name, 0),
	}
	if edit != nil {
		edit(o)
	}
	c := mqtttest.NewClient(e.T, o)
	return gamepeer.New(c, name)
}

// publish publishes and fails the case if the client refused.
func (e *env) publish(p *peer, m *mqttgame.Message) mqttgame.PublishID {
	e.Helper()
	id, err := p.PublishMessage(m)
	if err != nil {
		e.Fatalf("%s: publish to %s: %v", p.Name, m.Topic, err)
	}
	p.QoS[id] = m.QoS
	return id
}

// delivered waits until the broker acknowledged the publishes; QoS 0
// ones have no acknowledgement and are skipped.
func (e *env) delivered(p *peer, ids ...mqttgame.PublishID) {
	e.Helper()
	e.Until(p.Name+"'s publishes delivered", func() bool {
		for _, id := range ids {
			if p.QoS[id] == 0 {
				continue
			}
			if p.Saw(mqttgame.EventPublishFailed, id) {
				e.Fatalf("%s: publish #%d failed: %v", p.Name, id, p.Err())
			}
			if !p.Saw(mqttgame.EventDelivered, id) {
				return false
			}
		}
		return true
	}, p)
}

var barrierSeq atomic.Int64

// barrier makes sure the receiver has been sent everything the broker
// routed to it before from's next publish: from publishes a marker at
// QoS 1 to a topic only the receiver subscribes to (subscribing it first
// if needed), and the case waits for it. A broker forwards one client's
// messages in order, so what from published before has been handled.
func (e *env) barrier(from, to *peer) {
	e.Helper()
	topic := e.topic("sync/" + to.Name + "/x")
	if !to.IsSubscribed(topic) {
		e.Subscribe(to, topic, mqttgame.SubscribeOptions{QoS: 1})
	}
	marker := fmt.Sprint("barrier ", barrierSeq.Add(1))
	e.publish(from, &mqttgame.Message{Topic: topic, Payload: []byte(marker), QoS: 1})
	e.Until(to.Name+" reached the barrier", func() bool {
		for _, m := range to.Got(topic) {
			if string(m.Payload) == marker {
				return true
			}
		}
		return false
	}, from, to)
}

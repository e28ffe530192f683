package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
)

// jsPeer is an MQTT.js client in a Node process, driven through
// testdata/mqttjs-peer.mjs.
type jsPeer struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncbuf.Buffer
	done   chan struct{} // closed when the process's output ended

	mu     sync.Mutex
	events []jsEvent
	nextID int
}

// jsEvent is one line the peer printed.
type jsEvent struct {
	Ev             string            `json:"ev"`
	ID             int               `json:"id"`
	Granted        []int             `json:"granted"`
	Topic          string            `json:"topic"`
	Payload        []byte            `json:"payload"` // base64 in the JSON
	QoS            int               `json:"qos"`
	Retain         bool              `json:"retain"`
	Message        string            `json:"message"`
	UserProperties map[string]string `json:"userProperties"`
}

// jsWill is the will the peer connects with.
type jsWill struct {
	Topic   string `json:"topic"`
	Payload []byte `json:"payload"`
	QoS     int    `json:"qos"`
	Retain  bool   `json:"retain"`
}

// startPeer starts an MQTT.js client and waits until it is connected.
// It is killed, if still running, when the test ends.
func startPeer(t *testing.T, url, clientID string, will *jsWill) *jsPeer {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the MQTT.js peer needs Node.js 20")
	}
	if _, err := os.Stat("../../node_modules/mqtt/package.json"); err != nil {
		t.Fatal("MQTT.js is not installed: run `npm ci` at the repository root (make test does)")
	}
	script, err := filepath.Abs("testdata/mqttjs-peer.mjs")
	if err != nil {
		t.Fatal(err)
	}
	p := &jsPeer{t: t, stderr: new(syncbuf.Buffer), done: make(chan struct{})}
	p.cmd = exec.Command(node, script)
	p.cmd.Stderr = p.stderr
	p.stdin, err = p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("MQTT.js peer %s: events %+v\nstderr:\n%s", clientID, p.events, p.stderr.String())
			p.mu.Unlock()
		}
	})
	p.send(map[string]any{"op": "connect", "url": url, "clientId": clientID, "will": will})
	p.wait("connected", func(e jsEvent) bool { return e.Ev == "connected" })
	return p
}

func (p *jsPeer) read(r io.Reader) {
	defer close(p.done)
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 1<<20), 4<<20)
	for s.Scan() {
		var e jsEvent
		if err := json.Unmarshal(s.Bytes(), &e); err != nil {
			e = jsEvent{Ev: "error", Message: "unreadable line: " + s.Text()}
		}
		p.mu.Lock()
		p.events = append(p.events, e)
		p.mu.Unlock()
	}
}

func (p *jsPeer) send(cmd map[string]any) {
	p.t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("MQTT.js peer: %v", err)
	}
}

// wait waits for an event matching ok; an error event fails the test.
func (p *jsPeer) wait(what string, ok func(jsEvent) bool) jsEvent {
	p.t.Helper()
	var found jsEvent
	mqtttest.TickUntilWithin(p.t, waitFor, "the MQTT.js peer's "+what, nil, func() bool {
		p.mu.Lock()
		events := append([]jsEvent(nil), p.events...)
		p.mu.Unlock()
		for _, e := range events {
			if e.Ev == "error" {
				p.t.Fatalf("MQTT.js peer: %s", e.Message)
			}
			if ok(e) {
				found = e
				return true
			}
		}
		return false
	}, nil)
	return found
}

func (p *jsPeer) subscribe(filter string, qos int) {
	p.t.Helper()
	p.nextID++
	id := p.nextID
	p.send(map[string]any{"op": "subscribe", "id": id, "filter": filter, "qos": qos})
	e := p.wait("SUBACK", func(e jsEvent) bool { return e.Ev == "subscribed" && e.ID == id })
	if len(e.Granted) != 1 || e.Granted[0] >= 0x80 {
		p.t.Fatalf("MQTT.js peer: subscription to %s refused: %v", filter, e.Granted)
	}
}

// publish publishes and waits until MQTT.js reports it sent (QoS 0) or
// acknowledged (QoS 1 and 2).
func (p *jsPeer) publish(topic string, payload []byte, qos int, retain bool) {
	p.t.Helper()
	p.nextID++
	id := p.nextID
	p.send(map[string]any{"op": "publish", "id": id, "topic": topic, "payload": payload, "qos": qos, "retain": retain})
	p.wait("publish of "+topic, func(e jsEvent) bool { return e.Ev == "published" && e.ID == id })
}

// messages returns the messages the peer received on topics matching filter.
func (p *jsPeer) messages(filter string) []jsEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []jsEvent
	for _, e := range p.events {
		if e.Ev == "message" && mqttgame.Match(filter, e.Topic) {
			out = append(out, e)
		}
	}
	return out
}

// kill ends the process at once (no DISCONNECT: the broker publishes the
// will) and waits for it.
func (p *jsPeer) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		<-p.done
		_ = p.cmd.Wait()
	}
}

// TestMQTTJSPayloads: text, every byte value, a 64 KiB block and an empty
// payload cross byte for byte both ways at QoS 0, 1 and 2.
func TestMQTTJSPayloads(t *testing.T) {
	t.Parallel()
	forEachRoom(t, func(t *testing.T, r room, tr string) {
		prefix := "js-" + r.name + "-" + tr
		c := newClient(t, r.urls[tr], nil)
		connect(t, c)
		subscribe(t, c, prefix+"/to-go/#", 2)
		js := startPeer(t, r.urls[tr], prefix+"-js", nil)
		js.subscribe(prefix+"/to-js/#", 2)

		want := map[string][]byte{}
		for name, payload := range payloads() {
			for qos := range 3 {
				want[fmt.Sprintf("%s/%d", name, qos)] = payload
				js.publish(fmt.Sprintf("%s/to-go/%s/%d", prefix, name, qos), payload, qos, false)
				if _, err := c.Publish(fmt.Sprintf("%s/to-js/%s/%d", prefix, name, qos), payload, mqttgame.QoS(qos), false); err != nil {
					t.Fatal(err)
				}
			}
		}
		until(t, "every message both ways", func() bool {
			return len(c.Got(prefix+"/to-go/#")) == len(want) && len(js.messages(prefix+"/to-js/#")) == len(want)
		}, c)
		for _, m := range c.Got(prefix + "/to-go/#") {
			key := strings.TrimPrefix(m.Topic, prefix+"/to-go/")
			if !bytes.Equal(m.Payload, want[key]) || fmt.Sprint(m.QoS) != key[len(key)-1:] {
				t.Errorf("MQTT.js → Go %s: %d bytes at QoS %d, not the %d bytes sent", key, len(m.Payload), m.QoS, len(want[key]))
			}
		}
		for _, m := range js.messages(prefix + "/to-js/#") {
			key := strings.TrimPrefix(m.Topic, prefix+"/to-js/")
			if !bytes.Equal(m.Payload, want[key]) || fmt.Sprint(m.QoS) != key[len(key)-1:] {
				t.Errorf("Go → MQTT.js %s: %d bytes at QoS %d, not the %d bytes sent", key, len(m.Payload), m.QoS, len(want[key]))
			}
		}
	})
}

// TestMQTTJSRetained: a retained message set by either side reaches the
// other's later subscription with the retain flag; cleared by the other
// side, live subscribers see it emptied and later ones get nothing.
func TestMQTTJSRetained(t *testing.T) {
	t.Parallel()
	forEachRoom(t, func(t *testing.T, r room, tr string) {
		prefix := "jsr-" + r.name + "-" + tr
		goSet, jsSet := prefix+"/score/go", prefix+"/score/js"
		c := newClient(t, r.urls[tr], nil)
		connect(t, c)
		delivered(t, c, must(c.PublishString(goSet, "1200 from Go", 1, true)))
		js := startPeer(t, r.urls[tr], prefix+"-js", nil)
		js.publish(jsSet, []byte{0, 1, 2, 0xff}, 1, true)
		js.subscribe(prefix+"/score/+", 1)
		subscribe(t, c, prefix+"/score/+", 1)
		until(t, "each side's retained message on the other", func() bool {
			return len(c.Got(jsSet)) == 1 && len(js.messages(goSet)) == 1
		}, c)
		if m := c.Got(jsSet)[0]; !m.Retain || !bytes.Equal(m.Payload, []byte{0, 1, 2, 0xff}) {
			t.Fatalf("Go got MQTT.js's retained message as %q retain=%v", m.Payload, m.Retain)
		}
		if m := js.messages(goSet)[0]; !m.Retain || string(m.Payload) != "1200 from Go" {
			t.Fatalf("MQTT.js got Go's retained message as %q retain=%v", m.Payload, m.Retain)
		}

		// Each clears the other's.
		delivered(t, c, must(c.ClearRetained(jsSet)))
		js.publish(goSet, nil, 1, true)
		// Each subscription also brought its own side's retained value.
		until(t, "both live subscribers to see the values cleared", func() bool {
			return len(c.Got(goSet)) == 2 && len(js.messages(jsSet)) == 2
		}, c)
		if m := c.Got(goSet)[1]; len(m.Payload) != 0 {
			t.Fatalf("Go saw %q, want the cleared (empty) value", m.Payload)
		}
		if m := js.messages(jsSet)[1]; len(m.Payload) != 0 {
			t.Fatalf("MQTT.js saw %q, want the cleared (empty) value", m.Payload)
		}

		// Later subscribers get nothing retained: anything retained comes
		// before a message published once the subscription is in place.
		late := newClient(t, r.urls[tr], nil)
		connect(t, late)
		subscribe(t, late, prefix+"/score/+", 1)
		js2 := startPeer(t, r.urls[tr], prefix+"-js2", nil)
		js2.subscribe(prefix+"/score/+", 1)
		delivered(t, c, must(c.PublishString(prefix+"/score/marker", "m", 1, false)))
		until(t, "the marker", func() bool {
			return len(late.Got(prefix+"/score/marker")) == 1 && len(js2.messages(prefix+"/score/marker")) == 1
		}, late)
		if n, m := len(late.Got(prefix+"/score/+")), len(js2.messages(prefix+"/score/+")); n != 1 || m != 1 {
			t.Fatalf("after clearing, a new Go subscriber got %d messages and a new MQTT.js one %d; want only the marker", n, m)
		}
	})
}

func must(id mqttgame.PublishID, err error) mqttgame.PublishID {
	if err != nil {
		panic(err)
	}
	return id
}

// TestMQTTJSWill: an MQTT.js player whose process dies has its will
// published, and the Go client sees it.
func TestMQTTJSWill(t *testing.T) {
	t.Parallel()
	forEachRoom(t, func(t *testing.T, r room, tr string) {
		prefix := "jsw-" + r.name + "-" + tr
		c := newClient(t, r.urls[tr], nil)
		connect(t, c)
		subscribe(t, c, prefix+"/presence/+", 1)
		js := startPeer(t, r.urls[tr], prefix+"-js", &jsWill{Topic: prefix + "/presence/bob", Payload: []byte("bob left"), QoS: 1})
		js.publish(prefix+"/presence/bob", []byte("bob here"), 1, false)
		until(t, "bob's greeting", func() bool { return len(c.Got(prefix+"/presence/bob")) == 1 }, c)
		js.kill()
		until(t, "bob's will", func() bool { return len(c.Got(prefix+"/presence/bob")) == 2 }, c)
		if m := c.Got(prefix + "/presence/bob")[1]; string(m.Payload) != "bob left" || m.QoS != 1 {
			t.Fatalf("got %q at QoS %d, want the will", m.Payload, m.QoS)
		}
	})
}

// presence is the record a game keeps retained on its player's presence
// topic: online while connected, and, through the will, offline after.
type presence struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Online bool   `json:"online"`
	X      int    `json:"x"`
	Y      int    `json:"y"`
}

// TestMQTTJSPresence: an MQTT.js player joining later reads the Go
// player's retained presence record, and its retained offline will once
// the Go player leaves.
func TestMQTTJSPresence(t *testing.T) {
	t.Parallel()
	forEachRoom(t, func(t *testing.T, r room, tr string) {
		prefix := "jsp-" + r.name + "-" + tr
		topic := prefix + "/presence/alice"
		offline, _ := json.Marshal(presence{ID: "alice", Name: "Alice"})
		online, _ := json.Marshal(presence{ID: "alice", Name: "Alice", Online: true, X: 10, Y: 20})
		alice := newClient(t, r.urls[tr], func(o *mqttgame.Options) {
			o.Will = &mqttgame.Will{Topic: topic, Payload: offline, QoS: 1, Retain: true, ContentType: "application/json"}
		})
		connect(t, alice)
		delivered(t, alice, must(alice.PublishMessage(&mqttgame.Message{Topic: topic, Payload: online, QoS: 1, Retain: true, ContentType: "application/json"})))

		js := startPeer(t, r.urls[tr], prefix+"-js", nil)
		js.subscribe(prefix+"/presence/+", 1)
		m := js.wait("alice's record", func(e jsEvent) bool { return e.Ev == "message" && e.Topic == topic })
		var got presence
		if err := json.Unmarshal(m.Payload, &got); err != nil || !m.Retain || got != (presence{ID: "alice", Name: "Alice", Online: true, X: 10, Y: 20}) {
			t.Fatalf("MQTT.js read %s (retain=%v, err=%v)", m.Payload, m.Retain, err)
		}

		alice.DisconnectWithWill()
		js.wait("alice's offline record", func(jsEvent) bool { return len(js.messages(topic)) == 2 })
		if err := json.Unmarshal(js.messages(topic)[1].Payload, &got); err != nil || got.Online {
			t.Fatalf("MQTT.js read %s after alice left", js.messages(topic)[1].Payload)
		}
		late := startPeer(t, r.urls[tr], prefix+"-late", nil)
		late.subscribe(prefix+"/presence/+", 1)
		m = late.wait("the retained offline record", func(e jsEvent) bool { return e.Ev == "message" && e.Topic == topic })
		if err := json.Unmarshal(m.Payload, &got); err != nil || got.Online || !m.Retain {
			t.Fatalf("a later MQTT.js player read %s retain=%v", m.Payload, m.Retain)
		}
	})
}

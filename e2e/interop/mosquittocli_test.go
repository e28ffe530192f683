package interop

import (
	"bufio"
	"bytes"
	"encoding/hex"
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

// cliPath finds a mosquitto command-line client (Debian package
// mosquitto-clients).
func cliPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (Debian package mosquitto-clients; make test installs it)", name)
	}
	return p
}

// forEachTCPRoom runs f on each broker's TCP listener: the command-line
// clients speak only plain MQTT.
func forEachTCPRoom(t *testing.T, f func(t *testing.T, r room)) {
	for _, r := range rooms(t) {
		t.Run(r.name+"/tcp", func(t *testing.T) {
			f(t, r)
			r.check(t)
		})
	}
}

// subLines runs mosquitto_sub and collects its output lines, until the
// test ends.
type subLines struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	got  []string
}

func startSub(t *testing.T, r room, args ...string) *subLines {
	t.Helper()
	host, port, _ := strings.Cut(r.tcpAddr, ":")
	s := &subLines{done: make(chan struct{})}
	s.cmd = exec.Command(cliPath(t, "mosquitto_sub"), append([]string{"-V", "5", "-h", host, "-p", port}, args...)...)
	stderr := new(syncbuf.Buffer)
	s.cmd.Stderr = stderr
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.got = append(s.got, sc.Text())
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		_ = s.cmd.Wait()
		if t.Failed() {
			t.Logf("mosquitto_sub %v printed %q; stderr:\n%s", args, s.lines(), stderr.String())
		}
	})
	return s
}

func (s *subLines) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// pub runs mosquitto_pub to completion.
func pub(t *testing.T, r room, stdin io.Reader, args ...string) {
	t.Helper()
	host, port, _ := strings.Cut(r.tcpAddr, ":")
	cmd := exec.Command(cliPath(t, "mosquitto_pub"), append([]string{"-V", "5", "-h", host, "-p", port}, args...)...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
	}
}

// TestMosquittoSubReceives: what the Go client publishes at each QoS
// reaches mosquitto_sub byte for byte, and a retained message reaches a
// later mosquitto_sub with the retain flag.
func TestMosquittoSubReceives(t *testing.T) {
	t.Parallel()
	forEachTCPRoom(t, func(t *testing.T, r room) {
		prefix := "cli-" + r.name
		c := newClient(t, r.urls["tcp"], nil)
		connect(t, c)
		sub := startSub(t, r, "-t", prefix+"/#", "-q", "2", "-F", "%t|%q|%r|%x")
		// mosquitto_sub says nothing once subscribed: publish probes
		// until one comes through.
		probes := 0
		until(t, "mosquitto_sub to be subscribed", func() bool {
			if probes%20 == 0 {
				c.PublishString(prefix+"/probe", "probe", 0, false)
			}
			probes++
			return len(sub.lines()) > 0
		}, c)
		want := map[string]string{}
		for name, payload := range payloads() {
			for qos := range mqttgame.QoS(3) {
				topic := fmt.Sprintf("%s/data/%s/%d", prefix, name, qos)
				want[topic] = fmt.Sprintf("%s|%d|0|%s", topic, qos, hex.EncodeToString(payload))
				if _, err := c.Publish(topic, payload, qos, false); err != nil {
					t.Fatal(err)
				}
			}
		}
		until(t, "every message at mosquitto_sub", func() bool {
			n := 0
			for _, l := range sub.lines() {
				if strings.HasPrefix(l, prefix+"/data/") {
					n++
				}
			}
			return n == len(want)
		}, c)
		for _, l := range sub.lines() {
			topic, _, _ := strings.Cut(l, "|")
			if w, ok := want[topic]; ok && l != w {
				t.Errorf("mosquitto_sub printed\n%.200s\nwant\n%.200s", l, w)
			}
		}

		delivered(t, c, must(c.PublishString(prefix+"/retained", "kept", 1, true)))
		late := startSub(t, r, "-t", prefix+"/retained", "-F", "%t|%r|%p", "-C", "1")
		waitLines(t, late, 1)
		if got := late.lines()[0]; got != prefix+"/retained|1|kept" {
			t.Fatalf("a later mosquitto_sub printed %q, want the retained message with its flag", got)
		}
		delivered(t, c, must(c.ClearRetained(prefix+"/retained")))
	})
}

func waitLines(t *testing.T, s *subLines, n int) {
	t.Helper()
	mqtttest.TickUntilWithin(t, waitFor, fmt.Sprintf("%d lines from mosquitto_sub", n), nil, func() bool { return len(s.lines()) >= n }, func() {
		t.Logf("mosquitto_sub printed %q", s.lines())
	})
}

// TestMosquittoPubSends: what mosquitto_pub sends at each QoS, from a
// file or a command line, with a user property, reaches the Go client
// byte for byte; a retained message and its clearing are seen alike.
func TestMosquittoPubSends(t *testing.T) {
	t.Parallel()
	forEachTCPRoom(t, func(t *testing.T, r room) {
		prefix := "clipub-" + r.name
		c := newClient(t, r.urls["tcp"], nil)
		connect(t, c)
		subscribe(t, c, prefix+"/#", 2)
		dir := t.TempDir()
		want := map[string][]byte{}
		for name, payload := range payloads() {
			file := filepath.Join(dir, name)
			if err := os.WriteFile(file, payload, 0o644); err != nil {
				t.Fatal(err)
			}
			for qos := range 3 {
				topic := fmt.Sprintf("%s/data/%s/%d", prefix, name, qos)
				want[topic] = payload
				if len(payload) == 0 {
					pub(t, r, nil, "-t", topic, "-q", fmt.Sprint(qos), "-n")
				} else {
					pub(t, r, nil, "-t", topic, "-q", fmt.Sprint(qos), "-f", file)
				}
			}
		}
		pub(t, r, strings.NewReader("from stdin ✓"), "-t", prefix+"/stdin", "-q", "1", "-s",
			"-D", "publish", "user-property", "player", "bob", "-D", "publish", "content-type", "text/plain")
		until(t, "every message", func() bool { return len(c.Got(prefix+"/#")) == len(want)+1 }, c)
		for _, m := range c.Got(prefix + "/data/#") {
			if !bytes.Equal(m.Payload, want[m.Topic]) || fmt.Sprint(m.QoS) != m.Topic[len(m.Topic)-1:] {
				t.Errorf("%s: %d bytes at QoS %d, not the %d bytes sent", m.Topic, len(m.Payload), m.QoS, len(want[m.Topic]))
			}
		}
		if m := c.Got(prefix + "/stdin")[0]; string(m.Payload) != "from stdin ✓" || m.ContentType != "text/plain" ||
			len(m.UserProperties) != 1 || m.UserProperties[0] != (mqttgame.UserProperty{Key: "player", Value: "bob"}) {
			t.Errorf("got %q content type %q user properties %v", m.Payload, m.ContentType, m.UserProperties)
		}

		// Retained, then cleared, by mosquitto_pub.
		pub(t, r, nil, "-t", prefix+"/kept", "-q", "1", "-r", "-m", "retained by mosquitto_pub")
		late := newClient(t, r.urls["tcp"], nil)
		connect(t, late)
		subscribe(t, late, prefix+"/kept", 1)
		until(t, "the retained message", func() bool { return len(late.Got(prefix+"/kept")) == 1 }, late)
		if m := late.Got(prefix + "/kept")[0]; !m.Retain || string(m.Payload) != "retained by mosquitto_pub" {
			t.Fatalf("got %q retain=%v", m.Payload, m.Retain)
		}
		pub(t, r, nil, "-t", prefix+"/kept", "-q", "1", "-r", "-n")
		until(t, "the value cleared", func() bool { return len(late.Got(prefix+"/kept")) == 2 }, late)
		if m := late.Got(prefix + "/kept")[1]; len(m.Payload) != 0 {
			t.Fatalf("got %q, want the cleared (empty) value", m.Payload)
		}
		fresh := newClient(t, r.urls["tcp"], nil)
		connect(t, fresh)
		subscribe(t, fresh, prefix+"/kept", 1)
		pub(t, r, nil, "-t", prefix+"/kept", "-q", "1", "-m", "marker")
		until(t, "the marker", func() bool { return len(fresh.Got(prefix+"/kept")) == 1 }, fresh)
		if m := fresh.Got(prefix + "/kept")[0]; string(m.Payload) != "marker" {
			t.Fatalf("a new subscriber got %q before the marker: the retained message was not cleared", m.Payload)
		}
	})
}

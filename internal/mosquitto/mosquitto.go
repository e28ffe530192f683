// Package mosquitto runs the system's mosquitto broker for tests: a
// private instance on free loopback ports, with its configuration in a
// temporary folder, stopped (and its folder removed) by Close.
package mosquitto

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqttgame/mqttgame/internal/localproc"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
)

// Options configures a broker. The zero value is an open broker with
// mosquitto's defaults on a TCP and a WebSocket listener.
type Options struct {
	// Config holds extra mosquitto.conf lines, such as "max_keepalive 2"
	// or "max_packet_size 2048". Defaults to none.
	Config []string

	// ACL, if not empty, is written to an ACL file the broker uses, one
	// rule per line ("topic readwrite #", "topic deny secret/#"). Rules
	// without a user apply to anonymous clients. Defaults to none: every
	// client may do everything.
	ACL []string
	// Persist keeps the broker's state (sessions, queued and retained
	// messages) in its folder, saved when it stops, so Restart resumes
	// it. Defaults to false: nothing is kept. A broker that keeps its
	// state also gets max_inflight_messages 1024, for a defect of
	// mosquitto's restore (restoredefect.go); Config may set another.
	Persist bool
}

// Broker is a running mosquitto.
type Broker struct {
	path    string
	conf    string
	persist bool
	proc    *localproc.Process // nil until launched
	dir     string
	tcpPort int
	wsPort  int
	log     *syncbuf.Buffer
	stop    sync.Once
}

// ErrNotInstalled is returned by Start when there is no mosquitto to run.
var ErrNotInstalled = errors.New("mosquitto: not installed (Debian package mosquitto)")

// Path returns the mosquitto executable, or ErrNotInstalled.
func Path() (string, error) {
	for _, p := range []string{"mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", ErrNotInstalled
}

// Start starts a broker and returns once both listeners accept
// connections. Ports are picked free just before the start; a start that
// loses its port to another process is retried on new ones.
func Start(opts *Options) (*Broker, error) {
	if opts == nil {
		opts = new(Options)
	}
	path, err := Path()
	if err != nil {
		return nil, err
	}
	var last error
	for range 3 {
		b, err := start(path, opts)
		if err == nil {
			return b, nil
		}
		last = err
	}
	return nil, last
}

func start(path string, opts *Options) (*Broker, error) {
	dir, err := os.MkdirTemp("", "mosquitto-")
	if err != nil {
		return nil, err
	}
	ports, err := localproc.FreePorts(2)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &Broker{path: path, dir: dir, tcpPort: ports[0], wsPort: ports[1], persist: opts.Persist, log: new(syncbuf.Buffer)}
	b.conf = filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(b.conf, []byte(b.config(opts)), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if len(opts.ACL) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(strings.Join(opts.ACL, "\n")+"\n"), 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := b.launch(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return b, nil
}

// launch runs mosquitto with the broker's configuration and waits until
// both listeners accept connections.
func (b *Broker) launch() error {
	cmd := exec.Command(b.path, "-c", b.conf)
	cmd.Stdout = b.log
	cmd.Stderr = b.log
	proc, err := localproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("mosquitto: %w", err)
	}
	b.proc = proc
	if err := b.waitReady(10 * time.Second); err != nil {
		b.stopProcess(true)
		return err
	}
	return nil
}

// stopProcess ends the running mosquitto: with SIGTERM, which lets it save
// its state, then SIGKILL after 5 seconds; or with SIGKILL at once.
func (b *Broker) stopProcess(kill bool) {
	if b.proc == nil {
		return
	}
	grace := 5 * time.Second
	if kill {
		grace = 0
	}
	b.proc.Stop(grace)
}

// Restart stops mosquitto and starts it again on the same ports, with the
// same folder: with Options.Persist, it resumes the sessions and messages
// it saved. hard kills it (SIGKILL) instead of letting it stop.
func (b *Broker) Restart(hard bool) error {
	b.stopProcess(hard)
	return b.launch()
}

// config writes mosquitto.conf: loopback listeners only, anonymous
// clients allowed, nothing kept on disk.
func (b *Broker) config(opts *Options) string {
	var c strings.Builder
	line := func(s string, args ...any) { fmt.Fprintf(&c, s+"\n", args...) }
	line("per_listener_settings false")
	line("allow_anonymous true")
	if opts.Persist {
		line("persistence true")
		line("persistence_location %s/", b.dir)
		line("autosave_interval 60")
	} else {
		line("persistence false")
	}
	// Run as root, mosquitto would switch to its own user, who cannot read
	// this folder; run as anyone else, the line changes nothing.
	if u, err := user.Current(); err == nil {
		line("user %s", u.Username)
	}
	line("log_dest stdout")
	line("log_type error")
	line("log_type warning")
	line("log_type notice")
	line("log_type information")
	line("log_timestamp_format %%H:%%M:%%S")
	if len(opts.ACL) > 0 {
		line("acl_file %s", filepath.Join(b.dir, "acl"))
	}
	for _, l := range restoreDefectConfig(opts) {
		line("%s", l)
	}
	for _, l := range opts.Config { // after ours: a test's line wins
		line("%s", l)
	}
	line("listener %d 127.0.0.1", b.tcpPort)
	line("protocol mqtt")
	line("listener %d 127.0.0.1", b.wsPort)
	line("protocol websockets")
	return c.String()
}

func (b *Broker) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, addr := range []string{b.TCPAddr(), b.WSAddr()} {
		if err := localproc.WaitListening(addr, deadline, b.proc.Exited()); err != nil {
			if b.proc.Done() {
				return fmt.Errorf("mosquitto exited at start (%v):\n%s", b.proc.Err(), b.log.String())
			}
			return fmt.Errorf("mosquitto: %s did not open within %v:\n%s", addr, limit, b.log.String())
		}
	}
	return nil
}

// TCPURL returns the plain MQTT URL, "mqtt://127.0.0.1:port".
func (b *Broker) TCPURL() string { return "mqtt://" + b.TCPAddr() }

// TCPAddr returns the address of the plain MQTT listener.
func (b *Broker) TCPAddr() string { return "127.0.0.1:" + strconv.Itoa(b.tcpPort) }

// URL returns the MQTT over WebSocket URL, "ws://127.0.0.1:port/mqtt".
func (b *Broker) URL() string { return "ws://" + b.WSAddr() + "/mqtt" }

// WSAddr returns the address of the WebSocket listener.
func (b *Broker) WSAddr() string { return "127.0.0.1:" + strconv.Itoa(b.wsPort) }

// Log returns what the broker logged so far.
func (b *Broker) Log() string { return b.log.String() }

// Exited reports whether the broker process has ended.
func (b *Broker) Exited() bool { return b.proc == nil || b.proc.Done() }

// Close stops the broker and removes its folder. It waits for the
// process to end: a clean stop first, a kill after a second.
func (b *Broker) Close() error {
	b.stop.Do(func() {
		b.stopProcess(false)
		os.RemoveAll(b.dir)
	})
	return nil
}

package smoke_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/internal/demotest"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/presence"
)

var update = flag.Bool("update", false, "copy the host's screenshot to docs/demo.png")

const waitFor = 90 * time.Second

// TestSmoke runs the desktop demo twice under Xvfb: the first copy hosts
// the broker, the second joins it. Both are bots, so they chat, move
// their pointers and play. Each saves a screenshot once it sees the
// other; the test checks that each logged the other's arrival, that the
// pictures are not blank and show the other player's colour and a
// connected status, that the TCP listener carries the room's traffic,
// and that both leave cleanly on SIGINT, the joiner seen leaving.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("opens windows on a virtual X server")
	}
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatal("Xvfb is not installed; make deps-test installs it (Debian package xvfb)")
	}
	dir := t.TempDir()
	bin := demotest.BuildDemo(t, dir)
	display := startXvfb(t, xvfb)

	listen := demotest.FreeAddr(t)
	common := []string{
		"-room", "smoke", "-listen", listen, "-bot", "-round", "4s",
		"-screenshot-after", "8s", "-data", filepath.Join(dir, "data"), "-web", filepath.Join(dir, "web"),
	}
	ann := start(t, bin, display, append([]string{"-name", "Ann", "-tcp", "127.0.0.1:0", "-screenshot", filepath.Join(dir, "ann.png")}, common...)...)
	ann.waitOut(t, "Hosting the game's broker")
	bob := start(t, bin, display, append([]string{"-name", "Bob", "-screenshot", filepath.Join(dir, "bob.png")}, common...)...)
	bob.waitOut(t, "Another copy hosts the broker")

	ann.waitErr(t, "screenshot saved")
	bob.waitErr(t, "screenshot saved")
	if !ann.logged(`msg="player online" name=Bob`) {
		t.Error("Ann never saw Bob online")
	}
	if !bob.logged(`msg="player online" name=Ann`) {
		t.Error("Bob never saw Ann online")
	}
	checkPicture(t, filepath.Join(dir, "ann.png"), "Bob")
	checkPicture(t, filepath.Join(dir, "bob.png"), "Ann")
	checkTCP(t, ann)

	bob.interrupt(t)
	ann.waitErr(t, `msg="player offline" name=Bob`)
	ann.interrupt(t)

	if *update {
		b, err := os.ReadFile(filepath.Join(dir, "ann.png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(demotest.Root(t), "docs", "demo.png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startXvfb starts a virtual X server on a free display and returns its
// name (":N").
func startXvfb(t *testing.T, xvfb string) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(xvfb, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	// Xvfb writes the display number once it accepts clients.
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case n := <-line:
		if n == "" {
			t.Fatalf("Xvfb did not start: %s", stderr.String())
		}
		return ":" + n
	case <-time.After(30 * time.Second):
		t.Fatalf("Xvfb did not start in 30s: %s", stderr.String())
	}
	return ""
}

// process is a running copy of the demo.
type process struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncbuf.Buffer
	done           chan error
}

func start(t *testing.T, bin, display string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.name = args[1]
	// The players' keys go to a folder of the test's, not the user's.
	p.cmd.Env = append(os.Environ(), "DISPLAY="+display, "XDG_CONFIG_HOME="+t.TempDir())
	p.cmd.Stdout = &p.stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s's output:\n%s\n%s", p.name, p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

func (p *process) waitFor(t *testing.T, what string, buf *syncbuf.Buffer) {
	t.Helper()
	mqtttest.TickUntilWithin(t, waitFor, fmt.Sprintf("%s to say %q", p.name, what), nil, func() bool {
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s ended (%v) before saying %q", p.name, err, what)
		default:
		}
		return strings.Contains(buf.String(), what)
	}, nil)
}

func (p *process) waitOut(t *testing.T, what string) { t.Helper(); p.waitFor(t, what, &p.stdout) }
func (p *process) waitErr(t *testing.T, what string) { t.Helper(); p.waitFor(t, what, &p.stderr) }
func (p *process) logged(what string) bool           { return strings.Contains(p.stderr.String(), what) }

// interrupt sends SIGINT, as Ctrl+C would, and checks that the game
// leaves the room and ends well.
func (p *process) interrupt(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("%s ended with %v", p.name, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not end within 20s of SIGINT", p.name)
	}
	if !p.logged("leaving the room") {
		t.Errorf("%s did not leave the room", p.name)
	}
}

// checkPicture: the window's screenshot is the game's size, is not blank,
// shows the other player's colour (their dot in the players panel) and
// the overlay's green "connected" dot.
func checkPicture(t *testing.T, path, other string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	demotest.CheckScreenshot(t, img, path, other)
}

var tcpLine = regexp.MustCompile(`mosquitto_sub -h (\S+) -p (\d+) -t '#' -v`)

// checkTCP: a command-line peer on the printed TCP port sees both
// players' presence records.
func checkTCP(t *testing.T, host *process) {
	t.Helper()
	m := tcpLine.FindStringSubmatch(host.stdout.String())
	if m == nil {
		t.Fatalf("the host did not print a mosquitto_sub line:\n%s", host.stdout.String())
	}
	c := mqtttest.NewClient(t, &mqttgame.Options{Brokers: []string{fmt.Sprintf("mqtt://%s:%s", m[1], m[2])}})
	c.Connect()
	filter := game.TopicsOf("smoke").Presence + "/+"
	c.Subscribe(filter, mqttgame.AtLeastOnce)
	online := map[string]bool{}
	mqtttest.TickUntilWithin(t, waitFor, "Ann and Bob online over TCP", c.Update, func() bool {
		for _, msg := range c.AppendMessages(nil, filter) {
			var r presence.Record
			if err := json.Unmarshal(msg.Payload, &r); err == nil {
				online[r.Name] = r.Online
			}
		}
		return online["Ann"] && online["Bob"]
	}, func() { t.Logf("over TCP, online: %v", online) })
}

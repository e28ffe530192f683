// Package ejabberd runs a two-node ejabberd cluster for tests: the
// system's ejabberd (Debian package ejabberd), whose mod_mqtt is an MQTT 5
// broker over TCP and, through ejabberd_http, over WebSocket. Each node has
// its own Erlang node name, configuration, spool and log folders in a
// temporary folder and its own listeners on free loopback ports; the pair
// shares a private epmd, also on loopback, and a random cookie, so that
// pairs started at the same time never meet. Nothing needs root.
//
// Starting a pair takes about 9 s on an idle machine, 25 s on two busy
// cores, and about 80 MiB per node: start one per test package.
package ejabberd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqttgame/mqttgame/internal/localproc"
	"github.com/mqttgame/mqttgame/internal/syncbuf"
)

// Host is the XMPP domain of the cluster. An MQTT login "name" is the
// account name@Host, which Register creates.
const Host = "localhost"

// ErrNotInstalled is returned by Start when there is no ejabberd to run.
var ErrNotInstalled = errors.New("ejabberd: not installed (Debian package ejabberd)")

// Cluster is a running pair of ejabberd nodes joined in one cluster.
type Cluster struct {
	erl    string // the erl executable
	libs   string // ERL_LIBS: the folder holding ejabberd's Erlang applications
	dir    string
	cookie string
	epmd   *exec.Cmd
	port   int // epmd's
	nodes  [2]*Node
	stop   sync.Once
}

// Node is one ejabberd node of a Cluster.
type Node struct {
	c       *Cluster
	index   int
	name    string // Erlang node name, "ejabberd1@localhost"
	dir     string
	tcpPort int
	wsPort  int
	out     *syncbuf.Buffer

	mu   sync.Mutex
	proc *localproc.Process // nil until launched
}

// paths finds erl and ejabberd's Erlang applications.
func paths() (erl, libs string, err error) {
	erl, err = exec.LookPath("erl")
	if err != nil {
		return "", "", ErrNotInstalled
	}
	for _, pattern := range []string{"/usr/lib/*/ejabberd-*/ebin", "/usr/lib/ejabberd-*/ebin", "/usr/local/lib/ejabberd-*/ebin"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return erl, filepath.Dir(filepath.Dir(m[0])), nil
		}
	}
	return "", "", ErrNotInstalled
}

// Start starts two nodes, joins the second to the first, and returns once
// both accept MQTT connections on both listeners. limit bounds the whole
// start: about 10 s on two idle cores, but several times that beside a
// whole test run and CPU burners, so give minutes; a start that works
// returns as soon as it is done.
func Start(limit time.Duration) (*Cluster, error) {
	erl, libs, err := paths()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("epmd"); err != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "ejabberd-")
	if err != nil {
		return nil, err
	}
	var key [12]byte
	_, _ = rand.Read(key[:])
	c := &Cluster{erl: erl, libs: libs, dir: dir, cookie: hex.EncodeToString(key[:])}
	if err := c.start(limit); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	ports, err := localproc.FreePorts(5)
	if err != nil {
		return err
	}
	c.port = ports[4]
	inetrc := filepath.Join(c.dir, "inetrc")
	if err := os.WriteFile(inetrc, []byte("{lookup,[\"file\",\"native\"]}.\n{host,{127,0,0,1},[\"localhost\"]}.\n"), 0o644); err != nil {
		return err
	}
	c.epmd = exec.Command("epmd", "-port", strconv.Itoa(c.port), "-address", "127.0.0.1")
	if err := c.epmd.Start(); err != nil {
		return fmt.Errorf("ejabberd: epmd: %w", err)
	}
	if err := localproc.WaitListening("127.0.0.1:"+strconv.Itoa(c.port), deadline, nil); err != nil {
		return fmt.Errorf("ejabberd: epmd: %w", err)
	}
	for i := range c.nodes {
		n := &Node{c: c, index: i, name: fmt.Sprintf("ejabberd%d@localhost", i+1), tcpPort: ports[2*i], wsPort: ports[2*i+1], out: new(syncbuf.Buffer)}
		n.dir = filepath.Join(c.dir, fmt.Sprintf("node%d", i+1))
		for _, d := range []string{"spool", "log"} {
			if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(n.dir, "ejabberd.yml"), []byte(n.config()), 0o644); err != nil {
			return err
		}
		c.nodes[i] = n
	}
	// Both nodes boot at once; the second joins the first once both run
	// (join_cluster restarts ejabberd on the joining node).
	for _, n := range c.nodes {
		if err := n.launch(); err != nil {
			return err
		}
	}
	for _, n := range c.nodes {
		if err := n.waitStarted(deadline); err != nil {
			return err
		}
	}
	if _, err := c.nodes[1].ctl(deadline, "join_cluster", c.nodes[0].name); err != nil {
		return err
	}
	for _, n := range c.nodes {
		if err := n.waitStarted(deadline); err != nil {
			return err
		}
	}
	out, err := c.nodes[1].ctl(deadline, "list_cluster")
	if err != nil {
		return err
	}
	if !strings.Contains(out, c.nodes[0].name) || !strings.Contains(out, c.nodes[1].name) {
		return fmt.Errorf("ejabberd: the nodes did not join: list_cluster says %q", out)
	}
	return nil
}

// config is the node's ejabberd.yml: one virtual host, accounts in
// Mnesia, and mod_mqtt on a TCP listener and under /mqtt on an HTTP
// listener for WebSocket, both on loopback.
func (n *Node) config() string {
	return fmt.Sprintf(`hosts:
  - %s
loglevel: info
hide_sensitive_log_data: true
certfiles: []
auth_method: internal
listen:
  -
    port: %d
    ip: "127.0.0.1"
    module: mod_mqtt
    backlog: 1024
  -
    port: %d
    ip: "127.0.0.1"
    module: ejabberd_http
    backlog: 1024
    request_handlers:
      /mqtt: mod_mqtt
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
modules:
  mod_mqtt: {}
`, Host, n.tcpPort, n.wsPort)
}

// env is the environment of every Erlang program of the cluster.
func (c *Cluster) env(n *Node) []string {
	env := append(os.Environ(),
		"ERL_EPMD_PORT="+strconv.Itoa(c.port),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"ERL_LIBS="+c.libs,
		"ERL_INETRC="+filepath.Join(c.dir, "inetrc"),
		"HOME="+c.dir,
	)
	if n != nil {
		env = append(env,
			"EJABBERD_CONFIG_PATH="+filepath.Join(n.dir, "ejabberd.yml"),
			"EJABBERD_LOG_PATH="+filepath.Join(n.dir, "log", "ejabberd.log"),
			"ERL_CRASH_DUMP="+filepath.Join(n.dir, "log", "erl_crash.dump"),
			"ERL_CRASH_DUMP_BYTES=0",
		)
	}
	return env
}

// launch runs the node in the foreground: what `ejabberdctl foreground`
// runs, without its switch to the ejabberd user. (erl execs the Erlang VM,
// so the process started is the node.)
func (n *Node) launch() error {
	c := n.c
	cmd := exec.Command(c.erl, "-sname", n.name, "-setcookie", c.cookie, "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}",
		"+K", "true", "+P", "250000", "-noinput",
		"-mnesia", "dir", strconv.Quote(filepath.Join(n.dir, "spool")),
		"-s", "ejabberd")
	cmd.Dir = n.dir
	cmd.Env = c.env(n)
	cmd.Stdout = n.out
	cmd.Stderr = n.out
	proc, err := localproc.Start(cmd)
	if err != nil {
		return fmt.Errorf("ejabberd: %w", err)
	}
	n.mu.Lock()
	n.proc = proc
	n.mu.Unlock()
	return nil
}

// waitStarted waits until both MQTT listeners accept connections and
// ejabberd says it runs on the node. (The listeners open last; each
// ejabberdctl call starts an Erlang VM, so it is asked only then.)
func (n *Node) waitStarted(deadline time.Time) error {
	for _, addr := range []string{n.TCPAddr(), n.WSAddr()} {
		if err := localproc.WaitListening(addr, deadline, n.exitedChan()); err != nil {
			return fmt.Errorf("ejabberd: %s: %w:\n%s", n.name, err, n.Log())
		}
	}
	for {
		if n.Exited() {
			return fmt.Errorf("ejabberd: %s exited at start:\n%s", n.name, n.Log())
		}
		if _, err := n.ctl(deadline, "status"); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ejabberd: %s did not start in time:\n%s", n.name, n.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

var ctlSeq struct {
	sync.Mutex
	n int
}

// ctl runs an ejabberdctl command on the node, as ejabberdctl does it: a
// hidden Erlang node that calls ejabberd_ctl on the node.
// minCtlWait is the least an admin command is given, even past its
// deadline: each starts an Erlang VM of its own, which on two cores busy
// with other work (a whole test run, CPU burners) takes tens of seconds.
const minCtlWait = time.Minute

func (n *Node) ctl(deadline time.Time, args ...string) (string, error) {
	c := n.c
	ctlSeq.Lock()
	ctlSeq.n++
	name := fmt.Sprintf("ctl%d-%d@localhost", os.Getpid(), ctlSeq.n)
	ctlSeq.Unlock()
	argv := append([]string{"-sname", name, "-setcookie", c.cookie, "-start_epmd", "false", "-hidden", "-noinput",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}",
		"-s", "ejabberd_ctl", "-extra", n.name}, args...)
	cmd := exec.Command(c.erl, argv...)
	cmd.Dir = c.dir
	cmd.Env = c.env(nil)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("ejabberdctl: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	wait := time.Until(deadline)
	if wait < minCtlWait {
		wait = minCtlWait // a command that has begun may finish
	}
	select {
	case err := <-done:
		if err != nil {
			return out.String(), fmt.Errorf("ejabberdctl %s on %s: %w: %s", strings.Join(args, " "), n.name, err, strings.TrimSpace(out.String()))
		}
		return out.String(), nil
	case <-time.After(wait):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("ejabberdctl %s on %s: no answer in %v", strings.Join(args, " "), n.name, wait)
	}
}

// Register creates the account user@Host with password: an MQTT client
// logs in with user name user. (ejabberd 23.01 refuses an empty password.)
func (c *Cluster) Register(user, password string) error {
	n := c.nodes[0]
	if n.Exited() {
		n = c.nodes[1]
	}
	_, err := n.ctl(time.Now().Add(2*time.Minute), "register", user, Host, password)
	return err
}

// Node returns node i, 0 or 1.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Name returns the node's Erlang name, such as "ejabberd1@localhost".
func (n *Node) Name() string { return n.name }

// TCPURL returns the node's plain MQTT URL, "mqtt://127.0.0.1:port".
func (n *Node) TCPURL() string { return "mqtt://" + n.TCPAddr() }

// TCPAddr returns the address of the node's plain MQTT listener.
func (n *Node) TCPAddr() string { return "127.0.0.1:" + strconv.Itoa(n.tcpPort) }

// URL returns the node's MQTT over WebSocket URL, "ws://127.0.0.1:port/mqtt".
func (n *Node) URL() string { return "ws://" + n.WSAddr() + "/mqtt" }

// WSAddr returns the address of the node's HTTP listener.
func (n *Node) WSAddr() string { return "127.0.0.1:" + strconv.Itoa(n.wsPort) }

// Log returns what the node printed and what it wrote to its log.
func (n *Node) Log() string {
	b, _ := os.ReadFile(filepath.Join(n.dir, "log", "ejabberd.log"))
	return n.out.String() + string(b)
}

func (n *Node) process() *localproc.Process {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc
}

func (n *Node) exitedChan() <-chan struct{} {
	if p := n.process(); p != nil {
		return p.Exited()
	}
	return nil
}

// Exited reports whether the node's process has ended.
func (n *Node) Exited() bool {
	p := n.process()
	return p == nil || p.Done()
}

// Kill ends the node at once (SIGKILL), as a crash would: it says nothing
// to its clients or to the other node. It returns once the process is gone.
func (n *Node) Kill() {
	if p := n.process(); p != nil {
		p.Stop(0)
	}
}

// Restart kills the node if it runs and starts it again with the same
// name, ports and spool: it rejoins the cluster by itself. It returns once
// the node accepts MQTT connections.
func (n *Node) Restart(limit time.Duration) error {
	n.Kill()
	if err := n.launch(); err != nil {
		return err
	}
	return n.waitStarted(time.Now().Add(limit))
}

// stopNode asks the node to stop (SIGTERM: Erlang stops cleanly), and
// kills it after a few seconds.
func (n *Node) stopNode() {
	if p := n.process(); p != nil {
		p.Stop(5 * time.Second)
	}
}

// Close stops both nodes and epmd, and removes the cluster's folder.
func (c *Cluster) Close() error {
	c.stop.Do(func() {
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			if n != nil {
				wg.Add(1)
				go func() { defer wg.Done(); n.stopNode() }()
			}
		}
		wg.Wait()
		if c.epmd != nil && c.epmd.Process != nil {
			_ = c.epmd.Process.Kill()
			_ = c.epmd.Wait()
		}
		os.RemoveAll(c.dir)
	})
	return nil
}

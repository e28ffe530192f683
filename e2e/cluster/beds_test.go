package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/ejabberd"
	"github.com/mqttgame/mqttgame/internal/mosquitto"
)

// The beds and transports of the table, in its order.
var (
	bedNames       = []string{"ejabberd", "mosquitto"}
	transportNames = []string{"ws", "tcp"}
)

// bed is two broker nodes that act as one service: node 0 (A) and node 1 (B).
type bed interface {
	// url returns node's URL for a transport: ws:// or mqtt://.
	url(node int, transport string) string
	// addr returns node's listener address for a transport, for a proxy.
	addr(node int, transport string) string
	// login returns the user name and password clients use.
	login() (user, password string)
	// kill ends node at once (SIGKILL). The bed is spent: later users get
	// a new one.
	kill(node int)
	// check fails the test if a node died when none was killed.
	check(t testing.TB)
	close()
}

// The ejabberd cluster.
type ejabberdBed struct{ c *ejabberd.Cluster }

// An account every client logs in with; each client is its own
// resource, name@localhost/<ClientID>.
const (
	ejabberdUser     = "player"
	ejabberdPassword = "secret"
)

func startEjabberd() (bed, error) {
	c, err := ejabberd.Start(5 * time.Minute)
	if err != nil {
		return nil, err
	}
	if err := c.Register(ejabberdUser, ejabberdPassword); err != nil {
		c.Close()
		return nil, err
	}
	return &ejabberdBed{c}, nil
}

func (b *ejabberdBed) url(node int, tr string) string {
	if tr == "tcp" {
		return b.c.Node(node).TCPURL()
	}
	return b.c.Node(node).URL()
}

func (b *ejabberdBed) addr(node int, tr string) string {
	if tr == "tcp" {
		return b.c.Node(node).TCPAddr()
	}
	return b.c.Node(node).WSAddr()
}

func (b *ejabberdBed) login() (string, string) { return ejabberdUser, ejabberdPassword }
func (b *ejabberdBed) kill(node int)           { b.c.Node(node).Kill() }

func (b *ejabberdBed) check(t testing.TB) {
	t.Helper()
	for i := range 2 {
		if n := b.c.Node(i); n.Exited() {
			t.Errorf("%s died:\n%s", n.Name(), tail(n.Log(), 4000))
		}
	}
}

func (b *ejabberdBed) close() { b.c.Close() }

// The bridged mosquittos: A bridges to B.
type mosquittoBed struct{ p *mosquitto.Pair }

func startMosquitto() (bed, error) {
	p, err := mosquitto.StartBridged(nil)
	if err != nil {
		return nil, err
	}
	return &mosquittoBed{p}, nil
}

func (b *mosquittoBed) node(i int) *mosquitto.Broker {
	if i == 0 {
		return b.p.A
	}
	return b.p.B
}

func (b *mosquittoBed) url(node int, tr string) string {
	if tr == "tcp" {
		return b.node(node).TCPURL()
	}
	return b.node(node).URL()
}

func (b *mosquittoBed) addr(node int, tr string) string {
	if tr == "tcp" {
		return b.node(node).TCPAddr()
	}
	return b.node(node).WSAddr()
}

func (b *mosquittoBed) login() (string, string) { return "", "" }
func (b *mosquittoBed) kill(node int)           { b.node(node).Kill() }

func (b *mosquittoBed) check(t testing.TB) {
	t.Helper()
	for i, name := range []string{"A", "B"} {
		if n := b.node(i); n.Exited() {
			t.Errorf("mosquitto %s died:\n%s", name, tail(n.Log(), 4000))
		}
	}
}

func (b *mosquittoBed) close() { b.p.Close() }

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The shared beds, started on first use and stopped by TestMain.
var shared struct {
	mu   sync.Mutex
	beds map[string]*sharedBed
}

type sharedBed struct {
	once    sync.Once
	b       bed
	err     error
	started time.Duration
}

func getBed(t testing.TB, name string) bed {
	t.Helper()
	shared.mu.Lock()
	if shared.beds == nil {
		shared.beds = map[string]*sharedBed{}
	}
	s := shared.beds[name]
	if s == nil {
		s = &sharedBed{}
		shared.beds[name] = s
	}
	shared.mu.Unlock()
	s.once.Do(func() {
		start := time.Now()
		switch name {
		case "ejabberd":
			s.b, s.err = startEjabberd()
		case "mosquitto":
			s.b, s.err = startMosquitto()
		default:
			s.err = fmt.Errorf("no bed %q", name)
		}
		s.started = time.Since(start)
		if s.err == nil {
			results.Note(fmt.Sprintf("%s: both nodes started in %v", name, s.started.Round(100*time.Millisecond)))
		}
	})
	if s.err != nil {
		t.Fatalf("start %s: %v", name, s.err)
	}
	return s.b
}

// spend takes the bed out of the shared ones (a node of it is about to be
// killed): the next getBed starts a new one. The caller closes it.
func spend(t testing.TB, name string) bed {
	t.Helper()
	b := getBed(t, name)
	shared.mu.Lock()
	delete(shared.beds, name)
	shared.mu.Unlock()
	return b
}

func closeShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range shared.beds {
		if s.b != nil {
			wg.Add(1)
			go func() { defer wg.Done(); s.b.close() }()
		}
	}
	wg.Wait()
	shared.beds = nil
}

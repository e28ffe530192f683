package conformance

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/eclipse/paho.golang/packets"
)

// relay sits between clients and a broker listener, over TCP or
// WebSocket, forwarding bytes unchanged. It reads the MQTT packets that go
// by (with paho's decoder), so a case can see what the client and the
// broker sent each other, and it plays the network's failures: cut drops
// every connection, freeze turns them into black holes, kill also stops
// accepting new ones.
type relay struct {
	transport string
	target    string // broker address (tcp) or URL (ws)
	ln        net.Listener
	httpSrv   *http.Server
	wg        sync.WaitGroup

	mu       sync.Mutex
	pairs    []*pair
	obs      observed
	inflight map[uint16]byte // client's QoS 1 and 2 publishes not yet completed, by packet ID
	closed   bool
}

// observed is what went through a relay.
type observed struct {
	aliasOnlyFromClient int // PUBLISH with a topic alias and no topic name
	aliasOnlyToClient   int
	publishesToClient   int
	pubacksFromClient   int
	dupToClient         int // PUBLISH the broker sent again (DUP set)
	pingreqs            int
	pingresps           int
	maxInflight         int       // most client QoS 1 and 2 publishes unacknowledged at once
	qosFromClient       int       // client QoS 1 and 2 publishes
	sharedFromClient    int       // WebSocket messages from the client that held more than one packet
	lastFromClient      time.Time // when the client's latest packet went through
}

// pair is one relayed connection.
type pair struct {
	client, broker io.Closer
	frozen         bool
}

func newRelay(t testing.TB, transport, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{transport: transport, target: target, ln: ln, inflight: map[uint16]byte{}}
	if transport == "ws" {
		r.httpSrv = &http.Server{Handler: http.HandlerFunc(r.serveWS), ReadHeaderTimeout: 5 * time.Second}
		r.wg.Add(1)
		go func() { defer r.wg.Done(); _ = r.httpSrv.Serve(ln) }()
	} else {
		r.wg.Add(1)
		go r.serveTCP()
	}
	t.Cleanup(r.close)
	return r
}

// URL is what a client dials to go through the relay.
func (r *relay) URL() string {
	if r.transport == "ws" {
		return "ws://" + r.ln.Addr().String() + "/mqtt"
	}
	return "mqtt://" + r.ln.Addr().String()
}

func (r *relay) serveTCP() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			in.Close()
			continue
		}
		p := r.add(in, out)
		if p == nil {
			continue
		}
		go r.pump(p, true, func() ([]byte, error) { return readChunk(in) }, func(b []byte) error { _, err := out.Write(b); return err }, out)
		go r.pump(p, false, func() ([]byte, error) { return readChunk(out) }, func(b []byte) error { _, err := in.Write(b); return err }, in)
	}
}

func readChunk(c net.Conn) ([]byte, error) {
	buf := make([]byte, 32<<10)
	n, err := c.Read(buf)
	return buf[:n], err
}

func (r *relay) serveWS(w http.ResponseWriter, req *http.Request) {
	in, err := websocket.Accept(w, req, &websocket.AcceptOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, _, err := websocket.Dial(ctx, r.target, &websocket.DialOptions{Subprotocols: []string{"mqtt"}})
	if err != nil {
		in.CloseNow()
		return
	}
	in.SetReadLimit(-1)
	out.SetReadLimit(-1)
	p := r.add(wsCloser{in}, wsCloser{out})
	if p == nil {
		return
	}
	read := func(c *websocket.Conn) func() ([]byte, error) {
		return func() ([]byte, error) { _, b, err := c.Read(ctx); return b, err }
	}
	write := func(c *websocket.Conn) func([]byte) error {
		return func(b []byte) error { return c.Write(ctx, websocket.MessageBinary, b) }
	}
	done := make(chan struct{}, 2)
	go func() { r.pump(p, true, read(in), write(out), wsCloser{out}); done <- struct{}{} }()
	go func() { r.pump(p, false, read(out), write(in), wsCloser{in}); done <- struct{}{} }()
	<-done
	<-done
}

// wsCloser drops a WebSocket at once, as a network failure would.
type wsCloser struct{ c *websocket.Conn }

func (w wsCloser) Close() error { return w.c.CloseNow() }

func (r *relay) add(client, broker io.Closer) *pair {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		client.Close()
		broker.Close()
		return nil
	}
	p := &pair{client: client, broker: broker}
	r.pairs = append(r.pairs, p)
	r.wg.Add(2) // its two pumps
	return p
}

// pump forwards one direction of a pair and watches its packets. A frozen
// pair swallows what arrives and never closes the other side, so neither
// end learns anything, as with a dead network path.
func (r *relay) pump(p *pair, fromClient bool, read func() ([]byte, error), write func([]byte) error, other io.Closer) {
	defer r.wg.Done()
	var pending []byte
	for {
		b, err := read()
		if len(b) > 0 {
			r.mu.Lock()
			frozen := p.frozen
			r.mu.Unlock()
			if !frozen {
				pending = r.watch(pending, b, fromClient)
				if werr := write(b); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			r.mu.Lock()
			frozen := p.frozen
			r.mu.Unlock()
			if !frozen {
				other.Close()
			}
			return
		}
	}
}

// watch decodes the complete packets in pending+b and returns what is
// left. Over WebSocket, b is one message; one from the client that held
// more than one packet is counted.
func (r *relay) watch(pending, b []byte, fromClient bool) []byte {
	pending = append(pending, b...)
	for n := 0; ; n++ {
		rd := bytes.NewReader(pending)
		cp, err := packets.ReadPacket(rd)
		if err != nil {
			if n > 1 && fromClient && r.transport == "ws" {
				r.mu.Lock()
				r.obs.sharedFromClient++
				r.mu.Unlock()
			}
			return pending
		}
		pending = pending[len(pending)-rd.Len():]
		r.note(cp, fromClient)
	}
}

func (r *relay) note(cp *packets.ControlPacket, fromClient bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := &r.obs
	if fromClient {
		o.lastFromClient = time.Now()
	}
	switch p := cp.Content.(type) {
	case *packets.Publish:
		aliasOnly := p.Topic == "" && p.Properties != nil && p.Properties.TopicAlias != nil
		if fromClient {
			if aliasOnly {
				o.aliasOnlyFromClient++
			}
			if p.QoS > 0 {
				o.qosFromClient++
				r.inflight[p.PacketID] = p.QoS
				o.maxInflight = max(o.maxInflight, len(r.inflight))
			}
		} else {
			o.publishesToClient++
			if aliasOnly {
				o.aliasOnlyToClient++
			}
			if p.Duplicate {
				o.dupToClient++
			}
		}
	case *packets.Puback:
		if fromClient {
			o.pubacksFromClient++
		} else {
			delete(r.inflight, p.PacketID)
		}
	case *packets.Pubrec:
		if !fromClient && p.ReasonCode >= 0x80 {
			delete(r.inflight, p.PacketID)
		}
	case *packets.Pubcomp:
		if !fromClient {
			delete(r.inflight, p.PacketID)
		}
	case *packets.Connack:
		clear(r.inflight) // a new connection: the count starts over
	default:
		switch cp.FixedHeader.Type {
		case packets.PINGREQ:
			o.pingreqs++
		case packets.PINGRESP:
			o.pingresps++
		}
	}
}

// seen returns what went through the relay so far.
func (r *relay) seen() observed {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.obs
}

// cut drops every relayed connection at once; new ones are accepted.
func (r *relay) cut() {
	r.mu.Lock()
	pairs := r.pairs
	r.pairs = nil
	r.mu.Unlock()
	for _, p := range pairs {
		if tc, ok := p.client.(*net.TCPConn); ok {
			tc.SetLinger(0) // a reset, no goodbye
		}
		p.client.Close()
		p.broker.Close()
	}
}

// freeze makes every relayed connection a black hole: nothing more goes
// through, and nothing is closed. New connections work.
func (r *relay) freeze() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.pairs {
		p.frozen = true
	}
}

// kill stops accepting connections and cuts the ones there are: the
// client cannot come back through this relay.
func (r *relay) kill() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	if r.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		_ = r.httpSrv.Shutdown(ctx)
		cancel()
	}
	r.ln.Close()
	r.cut()
}

func (r *relay) close() {
	r.kill()
	if r.httpSrv != nil {
		r.httpSrv.Close()
	}
	r.wg.Wait()
}

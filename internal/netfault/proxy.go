// Package netfault is a TCP proxy for tests that breaks the connections
// it carries on demand, the way real networks do: it can reset them, stall
// them (a half-open connection: nothing gets through, nothing is closed),
// slow them down, and cut what it forwards into small pieces.
package netfault

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections from its own address to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	cond     *sync.Cond // signalled when stalled becomes false
	conns    map[*link]struct{}
	stalled  bool
	latency  time.Duration
	fragment int
	closed   bool
	accepted int

	wg sync.WaitGroup
}

// link is one forwarded connection.
type link struct {
	client, server net.Conn
}

// New starts a proxy on a free port of 127.0.0.1 that forwards to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[*link]struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address, to dial instead of the target's.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted returns how many connections the proxy accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			reset(c)
			continue
		}
		l := &link{client: c, server: s}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			reset(c)
			reset(s)
			return
		}
		p.conns[l] = struct{}{}
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, s, c)
		go p.pipe(l, c, s)
	}
}

// pipe copies from src to dst, obeying the faults set on the proxy.
func (p *Proxy) pipe(l *link, dst, src net.Conn) {
	defer p.wg.Done()
	defer p.drop(l)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.forward(l, dst, buf[:n]) {
			return
		}
		if err != nil {
			// A stalled link passes nothing, not even the end of a
			// connection: hold it until the stall ends or the link is reset.
			p.forward(l, dst, nil)
			return
		}
	}
}

// forward writes b to dst once the proxy is not stalled, slowly and in
// pieces if asked to. It reports whether dst is still usable.
func (p *Proxy) forward(l *link, dst net.Conn, b []byte) bool {
	p.mu.Lock()
	_, alive := p.conns[l]
	for p.stalled && !p.closed && alive {
		p.cond.Wait()
		_, alive = p.conns[l]
	}
	closed, latency, fragment := p.closed, p.latency, p.fragment
	p.mu.Unlock()
	if closed || !alive {
		return false
	}
	if latency > 0 {
		time.Sleep(latency)
	}
	for len(b) > 0 {
		n := len(b)
		if fragment > 0 {
			n = min(n, fragment)
		}
		if _, err := dst.Write(b[:n]); err != nil {
			return false
		}
		b = b[n:]
	}
	return true
}

// drop closes both ends of a link.
func (p *Proxy) drop(l *link) {
	p.mu.Lock()
	_, ok := p.conns[l]
	delete(p.conns, l)
	p.mu.Unlock()
	if ok {
		l.client.Close()
		l.server.Close()
	}
}

// Reset ends every connection at once with a TCP reset, as a network
// failure would: neither side gets a goodbye.
func (p *Proxy) Reset() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
		delete(p.conns, l)
	}
	p.mu.Unlock()
	p.cond.Broadcast()
	for _, l := range links {
		reset(l.client)
		reset(l.server)
	}
	return len(links)
}

// Stall stops (true) or resumes (false) forwarding in both directions
// without closing anything: the connections turn half-open. Data written
// meanwhile waits in the proxy.
func (p *Proxy) Stall(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.mu.Unlock()
	p.cond.Broadcast()
}

// SetLatency delays every forwarded chunk by d.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetFragment forwards data in writes of at most n bytes (0: as read).
func (p *Proxy) SetFragment(n int) {
	p.mu.Lock()
	p.fragment = n
	p.mu.Unlock()
}

// Close stops the proxy and resets every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	err := p.ln.Close()
	p.Reset()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// reset closes c with a TCP RST instead of the FIN handshake.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

var _ io.Closer = (*Proxy)(nil)

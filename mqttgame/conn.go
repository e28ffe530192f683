package mqttgame

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// packetConn carries MQTT packets over a transport connection, whole
// packets in each write.
//
// Writing: paho locks the connection (sync.Locker) around each packet and
// writes it in pieces; packetConn gathers the pieces and sends the packet
// with a single Write on Unlock: one WebSocket message, one TCP write.
// Without the lock, a keepalive could land in the middle of a packet.
// Packets published back to back share a write (holdNext), as MQTT over
// WebSocket allows; a packet is never split across two.
//
// Reading: a buffered reader serves paho's small reads, and the fixed
// header of each packet is checked before paho reads the body: a packet
// larger than the limit announced to the broker ends the connection
// before anything is allocated for it. With a protocolCheck, each packet
// is also checked against MQTT v5 before paho reads any of it; a
// violation sends DISCONNECT and ends the connection. With a
// publishReader, PUBLISH packets never reach paho: the reader decodes
// them and hands them to the client (publishread.go).
type packetConn struct {
	net.Conn

	wmu    sync.Mutex // held from Lock to Unlock
	locked atomic.Bool
	wbuf   []byte
	werr   error       // the first failed flush; later writes fail with it
	hold   atomic.Bool // the next packet may wait for more (holdNext)

	r         *bufio.Reader
	remaining int    // bytes of the current incoming packet not yet read
	whole     []byte // the rest of a packet larger than r's buffer, read whole to be checked
	limit     int    // largest incoming packet, in bytes
	anyRead   bool   // a packet began to arrive

	proto     *protocolCheck // if set, checks what the broker sends against MQTT v5
	publishes *publishReader // if set, reads the PUBLISH packets

	onError func(error) // told of the first read or write failure
	failed  atomic.Bool
	abort   func() error               // closes at once, with no goodbye; Close by default
	closer  atomic.Pointer[time.Timer] // aborts after a failed write; stopped by Close

	gate      *readGate // holds reads back while the game is behind; may be nil
	done      chan struct{}
	closeOnce sync.Once
}

const (
	maxKeptWriteBuffer = 64 << 10
	// maxGathered: packets held back for the next are sent once they
	// reach this many bytes.
	maxGathered    = 16 << 10
	readBufferSize = 16 << 10

	// writeFailGrace is how long the reader may go on after a write
	// failed: a broker that ends a connection (a session takeover, a
	// shutdown) writes its DISCONNECT and closes, so a write of the
	// client's can fail while that DISCONNECT still waits to be read,
	// and only it says why the connection ended.
	writeFailGrace = time.Second
)

// newPacketConn wraps c. limit is the largest packet the broker may
// send; gate, if not nil, holds reads back; onError, if not nil, is told
// of the first failure; proto, if not nil, checks every packet;
// publishes, if not nil, reads the PUBLISH packets instead of paho.
func newPacketConn(c net.Conn, limit int, gate *readGate, onError func(error), proto *protocolCheck, publishes *publishReader) *packetConn {
	pc := &packetConn{
		Conn:      c,
		proto:     proto,
		publishes: publishes,
		r:         bufio.NewReaderSize(c, readBufferSize),
		limit:     limit,
		onError:   onError,
		abort:     c.Close,
		gate:      gate,
		done:      make(chan struct{}),
	}
	if a, ok := c.(aborter); ok {
		pc.abort = a.CloseNow
	}
	return pc
}

// aborter is a connection that can close without a closing handshake.
type aborter interface{ CloseNow() error }

// Lock starts gathering a packet.
func (c *packetConn) Lock() {
	c.wmu.Lock()
	c.locked.Store(true)
}

// Unlock sends the gathered packet, with any that wait before it; or
// keeps it waiting for the next, if the writer said it would be followed
// at once (holdNext).
func (c *packetConn) Unlock() {
	hold := c.hold.Swap(false)
	if !hold || len(c.wbuf) >= maxGathered {
		c.sendLocked()
	}
	c.locked.Store(false)
	c.wmu.Unlock()
}

// holdNext lets the next packet written wait in the buffer, to share one
// write (one WebSocket message, one TCP send) with those that follow it:
// the outbox's sender says so when more messages are queued behind the
// one it publishes, and calls flush before it waits for more. A packet
// any other writer (acknowledgements, the pinger, DISCONNECT) writes goes
// at once, with what waits before it.
func (c *packetConn) holdNext(hold bool) { c.hold.Store(hold) }

// flush sends the packets that wait.
func (c *packetConn) flush() {
	c.wmu.Lock()
	c.sendLocked()
	c.wmu.Unlock()
}

// sendLocked writes the buffer, with wmu held.
func (c *packetConn) sendLocked() {
	if len(c.wbuf) > 0 && c.werr == nil {
		if _, err := c.Conn.Write(c.wbuf); err != nil {
			c.werr = err
			c.fail(err)
			// A half-written packet leaves the stream unusable for writing;
			// the reader reads on until the connection ends, for at most
			// writeFailGrace.
			c.closer.Store(time.AfterFunc(writeFailGrace, func() { _ = c.abort() }))
		}
	}
	if cap(c.wbuf) > maxKeptWriteBuffer {
		c.wbuf = nil
	} else {
		c.wbuf = c.wbuf[:0]
	}
}

// Write adds p to the packet being gathered. paho always writes under
// Lock; a Write outside it is sent as a packet of its own.
func (c *packetConn) Write(p []byte) (int, error) {
	if !c.locked.Load() {
		c.Lock()
		defer c.Unlock()
	}
	if c.werr != nil {
		return 0, c.werr
	}
	c.wbuf = append(c.wbuf, p...)
	return len(p), nil
}

// Read reads from the current packet, checking the size of each new one
// before any of it is handed out.
func (c *packetConn) Read(p []byte) (int, error) {
	for c.remaining == 0 {
		if err := c.gate.wait(c.done); err != nil {
			return 0, err
		}
		typ, size, headerSize, err := c.nextPacket()
		if err == nil && typ == packetPUBLISH && c.publishes != nil {
			err = c.readPublish(size, headerSize)
		}
		if err != nil {
			c.fail(err)
			return 0, err
		}
	}
	if len(p) > c.remaining {
		p = p[:c.remaining]
	}
	if c.whole != nil {
		n := copy(p, c.whole)
		c.whole = c.whole[n:]
		c.remaining -= n
		if c.remaining == 0 {
			c.whole = nil
		}
		return n, nil
	}
	n, err := c.r.Read(p)
	c.remaining -= n
	if err != nil {
		c.fail(err)
	}
	return n, err
}

// nextPacket reads the fixed header of the next packet without consuming
// it, sets remaining to the packet's size, and checks the packet. It
// returns the packet's type, its size and the size of its fixed header.
func (c *packetConn) nextPacket() (typ byte, size, headerSize int, err error) {
	if c.proto != nil {
		head, err := c.r.Peek(1)
		if err != nil {
			if !c.anyRead && err == io.EOF {
				return 0, 0, 0, fmt.Errorf("%w: %w", ErrNoConnack, err)
			}
			return 0, 0, 0, err
		}
		c.anyRead = true
		if err := c.proto.first(head[0], c.peekBuffered()); err != nil {
			_ = c.abort()
			return 0, 0, 0, err
		}
	}
	size, headerSize, err = c.peekPacketSize()
	if err != nil {
		return 0, 0, 0, err
	}
	head, _ := c.r.Peek(1)
	typ = head[0] >> 4
	if c.proto == nil {
		c.remaining = size
		return typ, size, headerSize, nil
	}
	var pkt, whole []byte
	switch {
	case !needsWhole(head[0]):
		pkt = head
	case size <= c.r.Size():
		if pkt, err = c.r.Peek(size); err != nil {
			return 0, 0, 0, err
		}
	default:
		whole = make([]byte, size)
		if _, err := io.ReadFull(c.r, whole); err != nil {
			return 0, 0, 0, err
		}
		pkt = whole
	}
	if err := c.proto.check(pkt); err != nil {
		c.refuse(err)
		return 0, 0, 0, err
	}
	c.remaining, c.whole = size, whole
	return typ, size, headerSize, nil
}

// peekBuffered returns the bytes read but not consumed, at least one.
func (c *packetConn) peekBuffered() []byte {
	b, _ := c.r.Peek(max(1, c.r.Buffered()))
	return b
}

// refuse ends the connection for a packet the broker should not have
// sent: with a DISCONNECT saying why for a protocol violation, as MQTT v5
// asks, then at once.
func (c *packetConn) refuse(err error) {
	c.fail(err) // before the DISCONNECT's write can fail
	if v, ok := err.(*ViolationError); ok {
		// A write stuck on a broker that reads nothing must not hold the
		// reader: give it a second.
		t := time.AfterFunc(time.Second, func() { _ = c.abort() })
		c.Lock()
		c.wbuf = append(c.wbuf, 0xE0, 1, byte(v.Code)) // DISCONNECT, reason code only
		c.Unlock()
		t.Stop()
	}
	_ = c.abort()
}

// peekPacketSize reads the fixed header of the next packet without
// consuming it and returns the packet's whole size and the header's.
func (c *packetConn) peekPacketSize() (size, headerSize int, err error) {
	for n := 2; ; n++ {
		head, err := c.r.Peek(n)
		if err != nil {
			return 0, 0, err
		}
		length, headerSize, ok := remainingLength(head)
		if headerSize == 0 {
			_ = c.abort()
			return 0, 0, fmt.Errorf("%w: remaining length longer than 4 bytes", ErrMalformedPacket)
		}
		if !ok {
			continue
		}
		size := headerSize + length
		if size > c.limit {
			_ = c.abort()
			return 0, 0, fmt.Errorf("%w: the broker sent a %d-byte packet (type %d), over the %d-byte limit",
				ErrPacketTooLarge, size, head[0]>>4, c.limit)
		}
		return size, headerSize, nil
	}
}

// remainingLength decodes the remaining length of the packet whose fixed
// header starts head. It returns the length and the size of the fixed
// header, with ok false while head holds only part of the field. A field
// longer than the 4 bytes MQTT allows gives a header size of 0.
func remainingLength(head []byte) (length, headerSize int, ok bool) {
	mult := 1
	for i := 1; i <= 4; i++ {
		if i >= len(head) {
			return 0, i + 1, false
		}
		b := head[i]
		length += int(b&0x7f) * mult
		if b&0x80 == 0 {
			return length, i + 1, true
		}
		mult *= 128
	}
	return 0, 0, false
}

// Close closes the connection and ends a read waiting at the gate.
func (c *packetConn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	if t := c.closer.Load(); t != nil {
		t.Stop()
	}
	return c.Conn.Close()
}

func (c *packetConn) fail(err error) {
	if c.onError != nil && c.failed.CompareAndSwap(false, true) {
		c.onError(err)
	}
}

// readGate holds back the reading of new packets while the game is too
// far behind: when a broker sends more unacknowledged QoS 1 and 2
// messages than the receive maximum the client announced (a compliant
// broker never does), or the messages held take the inbox past
// MaxBufferedBytes, not reading lets TCP push back on the broker instead
// of the client holding messages without bound.
type readGate struct {
	mu     sync.Mutex                    // orders set
	open   atomic.Pointer[chan struct{}] // closed while reads may go on
	paused atomic.Bool
}

func newReadGate() *readGate {
	g := new(readGate)
	open := make(chan struct{})
	close(open)
	g.open.Store(&open)
	return g
}

// set pauses (true) or resumes (false) reading.
func (g *readGate) set(paused bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if paused == g.paused.Load() {
		return
	}
	g.paused.Store(paused)
	if paused {
		closed := make(chan struct{})
		g.open.Store(&closed)
	} else {
		close(*g.open.Load())
	}
}

// isPaused reports whether reading is held back.
func (g *readGate) isPaused() bool {
	return g != nil && g.paused.Load()
}

// wait returns once reading may go on, or net.ErrClosed when done closes.
func (g *readGate) wait(done <-chan struct{}) error {
	if g == nil {
		return nil
	}
	select {
	case <-*g.open.Load():
		return nil
	case <-done:
		return net.ErrClosed
	}
}

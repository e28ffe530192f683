package mochifix

// # A failed PUBREC write loses the QoS 2 message
//
// What is wrong: when mochi cannot write the PUBREC for a QoS 2 message
// (the connection was just reset), processPublish returns before routing
// the message, yet keeps the PUBREC in the session as received. The
// client's resend, on its next connection, is refused as "packet
// identifier in use", and the message is lost.
//
// Upstream: no issue or pull request found. The closest is
// mochi-mqtt/server#476 ("Fix QoS 2 message rejections to send PUBREC
// instead of PUBACK"), about the same acknowledgement path.
//
// Repair: ForgivingConn reports every write as done, so mochi routes the
// message; the failed connection still ends through its reads, and the
// client's resend completes the exchange.

import (
	"net"
	"sync/atomic"
)

// ForgivingConn is a connection whose writes never fail: the first that
// does closes it, and it and every later one report success.
type ForgivingConn struct {
	net.Conn
	abort  func() error // closes at once; nil: Close
	failed atomic.Bool
}

// NewForgivingConn wraps c. abort, if not nil, closes c at once, with no
// closing handshake (a WebSocket's CloseNow).
func NewForgivingConn(c net.Conn, abort func() error) *ForgivingConn {
	return &ForgivingConn{Conn: c, abort: abort}
}

// Write writes p, or closes the connection if that fails; it reports p
// written either way.
func (c *ForgivingConn) Write(p []byte) (int, error) {
	if c.failed.Load() {
		return len(p), nil
	}
	if _, err := c.Conn.Write(p); err != nil {
		c.failed.Store(true)
		_ = c.Conn.Close()
	}
	return len(p), nil
}

// Close closes the connection; one that has already failed is dropped
// without waiting for a closing handshake.
func (c *ForgivingConn) Close() error {
	if c.abort != nil && c.failed.Load() {
		return c.abort()
	}
	return c.Conn.Close()
}

// CloseNow drops the connection without a closing handshake.
func (c *ForgivingConn) CloseNow() error {
	if c.abort != nil {
		return c.abort()
	}
	return c.Conn.Close()
}

//go:build !js

package mqttgame

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/coder/websocket"
)

// wsConn is a WebSocket connection as a net.Conn: each Write is one
// binary message, and Read reads the messages one after the other as a
// byte stream.
//
// It does what websocket.NetConn does, minus the deadlines, which paho
// never sets; in exchange it reads and writes with a context that never
// ends, which costs coder/websocket nothing, where NetConn's cancellable
// context costs a context.AfterFunc registration (five allocations and a
// lock on the parent context) for every message in each direction. The
// connection's life is bounded once, at its start, instead.
type wsConn struct {
	ws   *websocket.Conn
	stop func() bool // ends the watch on the connection's life
	addr wsAddr

	r   io.Reader // the message being read; nil between messages
	eof bool      // the peer closed normally
}

// newWSConn wraps ws; it is closed at once, without a closing handshake,
// when life ends. It lifts the WebSocket's limit on message sizes: a
// message may hold several packets, and packetConn checks each packet
// against the limit announced to the broker.
func newWSConn(life context.Context, ws *websocket.Conn, url string) *wsConn {
	ws.SetReadLimit(-1)
	c := &wsConn{ws: ws, addr: wsAddr(url)}
	c.stop = context.AfterFunc(life, func() { _ = ws.CloseNow() })
	return c
}

// Read reads from the current message, going on to the next as each ends.
func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.eof {
			return 0, io.EOF
		}
		if c.r == nil {
			typ, r, err := c.ws.Reader(context.Background())
			if err != nil {
				switch websocket.CloseStatus(err) {
				case websocket.StatusNormalClosure, websocket.StatusGoingAway:
					c.eof = true
					return 0, io.EOF
				}
				return 0, err
			}
			if typ != websocket.MessageBinary {
				err := fmt.Errorf("%w: the broker sent a %v WebSocket message, MQTT needs binary ones", ErrMalformedPacket, typ)
				_ = c.ws.Close(websocket.StatusUnsupportedData, "MQTT needs binary messages")
				return 0, err
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r, err = nil, nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// Write sends p as one binary message.
func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close ends the connection at once. (A closing handshake would wait for
// the read in progress, which paho always has, for up to 5 s when the
// broker is gone; websocket.NetConn's Close ends that read by cancelling
// its context, which drops the connection too. MQTT has said goodbye
// already with its DISCONNECT packet.)
func (c *wsConn) Close() error {
	c.stop()
	return c.ws.CloseNow()
}

// CloseNow drops the connection without a closing handshake, for a
// broker that broke the protocol.
func (c *wsConn) CloseNow() error {
	c.stop()
	return c.ws.CloseNow()
}

func (c *wsConn) LocalAddr() net.Addr              { return wsAddr("") }
func (c *wsConn) RemoteAddr() net.Addr             { return c.addr }
func (c *wsConn) SetDeadline(time.Time) error      { return errNoDeadlines }
func (c *wsConn) SetReadDeadline(time.Time) error  { return errNoDeadlines }
func (c *wsConn) SetWriteDeadline(time.Time) error { return errNoDeadlines }

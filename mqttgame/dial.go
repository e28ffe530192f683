package mqttgame

import (
	"context"
	"net"
	"net/url"

	"github.com/coder/websocket"
)

// mqttSubprotocol is the WebSocket subprotocol MQTT brokers expect.
const mqttSubprotocol = "mqtt"

// dial opens a transport connection to one broker URL. ctx bounds the
// dial; life bounds the connection once it is open.
func dial(ctx, life context.Context, u *url.URL, o *Options) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	switch u.Scheme {
	case "ws", "wss":
		ws, err := dialWebSocket(ctx, u, o)
		if err != nil {
			return nil, err
		}
		return wsConn{websocket.NetConn(life, ws, websocket.MessageBinary), ws}, nil
	}
	return dialStream(ctx, u, o)
}

// wsConn is a WebSocket as a net.Conn that can also be dropped at once,
// when the broker broke the protocol and deserves no closing handshake.
type wsConn struct {
	net.Conn
	ws *websocket.Conn
}

func (c wsConn) CloseNow() error { return c.ws.CloseNow() }

package mqttgame

import (
	"context"
	"net"
	"net/url"
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
		return newWSConn(life, ws, u.Redacted()), nil
	}
	return dialStream(ctx, u, o)
}

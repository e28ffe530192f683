//go:build js

package mqttgame

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

// dialWebSocket ignores header: the browser's WebSocket cannot send one.
func dialWebSocket(ctx context.Context, u *url.URL, header http.Header, o *Options) (*websocket.Conn, error) {
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{Subprotocols: []string{mqttSubprotocol}})
	return ws, err
}

// dialStream cannot work in the browser; New refuses such URLs already.
func dialStream(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	return nil, errors.New("mqttgame: the browser only speaks WebSocket")
}

//go:build js

package mqttgame

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
)

// dialWebSocket opens the browser's own WebSocket (browserConn). It
// ignores header: the browser's WebSocket cannot send one.
func dialWebSocket(ctx context.Context, u *url.URL, header http.Header, o *Options) (*browserConn, error) {
	return dialBrowser(ctx, u.String())
}

// dialStream cannot work in the browser; New refuses such URLs already.
func dialStream(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	return nil, errors.New("mqttgame: the browser only speaks WebSocket")
}

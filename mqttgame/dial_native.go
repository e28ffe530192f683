//go:build !js

package mqttgame

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
)

func dialWebSocket(ctx context.Context, u *url.URL, header http.Header, o *Options) (*websocket.Conn, error) {
	// A connection whose handshake failed (a broker answering 503 while
	// it stops) would otherwise wait in the shared pool of idle HTTP
	// connections, with two goroutines, for no later use.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	if u.Scheme == "wss" && o.TLSConfig != nil {
		tr.TLSClientConfig = o.TLSConfig.Clone()
	}
	opts := &websocket.DialOptions{Subprotocols: []string{mqttSubprotocol}, HTTPClient: &http.Client{Transport: tr}, HTTPHeader: header}
	ws, resp, err := websocket.Dial(ctx, u.String(), opts)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return ws, err
}

// dialStream opens mqtt://, tcp:// and mqtts:// connections.
func dialStream(ctx context.Context, u *url.URL, o *Options) (net.Conn, error) {
	if u.Scheme == "mqtts" {
		cfg := o.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			cfg.ServerName = u.Hostname()
		}
		d := tls.Dialer{Config: cfg}
		return d.DialContext(ctx, "tcp", u.Host)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", u.Host)
}

package mqttgame

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// mqttSubprotocol is the WebSocket subprotocol MQTT brokers expect.
const mqttSubprotocol = "mqtt"

// dial opens a transport connection to one broker URL. ctx bounds the
// dial; life bounds the connection once it is open. creds, from
// Options.Credentials, may add to a WebSocket URL's query and handshake.
func dial(ctx, life context.Context, u *url.URL, o *Options, creds *Credentials) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	switch u.Scheme {
	case "ws", "wss":
		target, header := u, http.Header(nil)
		if creds != nil {
			target, header = withQuery(u, creds.Query), creds.Header
		}
		ws, err := dialWebSocket(ctx, target, header, o)
		if err != nil {
			return nil, hideQuery(err, target, u)
		}
		return newWSConn(life, ws, u.Redacted()), nil
	}
	return dialStream(ctx, u, o)
}

// withQuery returns u with q set on its query, or u itself when q is empty.
func withQuery(u *url.URL, q url.Values) *url.URL {
	if len(q) == 0 {
		return u
	}
	v := u.Query()
	for k, vs := range q {
		v[k] = vs
	}
	cp := *u
	cp.RawQuery = v.Encode()
	return &cp
}

// hideQuery keeps a query added from Credentials, a token as often as
// not, out of an error that quotes the URL dialled.
func hideQuery(err error, dialled, shown *url.URL) error {
	if dialled == shown || dialled.RawQuery == "" {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = shown.Redacted()
	}
	msg := strings.ReplaceAll(err.Error(), dialled.RawQuery, "xxxxx")
	return &redactedError{msg: msg, err: err}
}

// redactedError is err with a message that leaves something out.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

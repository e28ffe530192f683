//go:build !js

package mqttgame_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// TestCredentialsPerAttempt: a token minted for each attempt by
// Options.Credentials. The broker accepts the first; then it is rotated
// and the connection cut. The token of the next attempt has expired by
// then and is refused (0x86); a fresh one is minted for the attempt
// after, and accepted.
func TestCredentialsPerAttempt(t *testing.T) {
	t.Parallel()
	b := startBroker(t, &broker.Options{TCPAddr: "127.0.0.1:0", Auth: &broker.Auth{Users: map[string]string{"player": "token-1"}}})
	p := newProxy(t, strings.TrimPrefix(b.TCPURL(), "mqtt://"))
	var minted atomic.Int32
	var mu sync.Mutex
	var asked []string
	c := newClient(t, "mqtt://"+p.Addr(), func(o *mqttgame.Options) {
		o.ReconnectDelay = 10 * time.Millisecond
		o.Credentials = func(ctx context.Context, u *url.URL) (mqttgame.Credentials, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Error("Credentials called with no deadline")
			}
			mu.Lock()
			asked = append(asked, u.String())
			mu.Unlock()
			return mqttgame.Credentials{Username: "player", Password: fmt.Sprintf("token-%d", minted.Add(1))}, nil
		}
	})
	connect(t, c)
	b.AddUser("player", "token-3") // token-1 and token-2 expire
	p.Reset()
	tickUntil(t, "the reconnection with a fresh token", func() bool { return c.Stats().Connects == 2 }, c)
	err := connectFailure(c)
	if !errors.Is(err, mqttgame.ReasonBadUsernameOrPassword) {
		t.Errorf("the attempt with the expired token failed with %v, want bad user name or password", err)
	}
	if n := minted.Load(); n != 3 {
		t.Errorf("%d tokens minted, want 3", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, u := range asked {
		if u != "mqtt://"+p.Addr() {
			t.Errorf("Credentials asked for %s, want the broker's URL", u)
		}
	}
}

// TestCredentialsError: a Credentials function that fails fails the
// attempt with a ConnectError matching ErrCredentials and wrapping the
// function's error; the broker is not dialled.
func TestCredentialsError(t *testing.T) {
	t.Parallel()
	b, srv := mqtttest.StartMochi(t, nil)
	down := errors.New("token service down")
	c := newClient(t, b.URL(), func(o *mqttgame.Options) {
		o.Credentials = func(context.Context, *url.URL) (mqttgame.Credentials, error) { return mqttgame.Credentials{}, down }
	})
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "a failed attempt", c.ConnectFailed, c)
	err := c.Err()
	var ce *mqttgame.ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, mqttgame.ErrCredentials) || !errors.Is(err, down) || errors.Is(err, mqttgame.ErrUnreachable) {
		t.Errorf("got %v, want a ConnectError matching ErrCredentials and the function's error, not ErrUnreachable", err)
	}
	if n := srv.Info.ClientsConnected; n != 0 {
		t.Errorf("%d clients reached the broker", n)
	}
}

// TestCredentialsWithUsernameRefused: New refuses Credentials beside a
// fixed Username or Password.
func TestCredentialsWithUsernameRefused(t *testing.T) {
	t.Parallel()
	_, err := mqttgame.New(&mqttgame.Options{
		Brokers:     []string{"ws://localhost/mqtt"},
		Username:    "player",
		Credentials: func(context.Context, *url.URL) (mqttgame.Credentials, error) { return mqttgame.Credentials{}, nil },
	})
	var oe *mqttgame.OptionError
	if !errors.As(err, &oe) || oe.Option != "Credentials" {
		t.Errorf("New: %v, want an OptionError for Credentials", err)
	}
}

// TestCredentialsQueryAndHeader: the query and header from Credentials
// reach the WebSocket handshake (through a proxy in front of the broker
// that records them), and the query is kept out of the URL the client
// reports and out of a failed dial's error.
func TestCredentialsQueryAndHeader(t *testing.T) {
	t.Parallel()
	b := startBroker(t, nil)
	target, _ := url.Parse("http://" + b.Addr().String())
	type seen struct{ token, room, auth string }
	got := make(chan seen, 10)
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.URL.Query().Get("token"), r.URL.Query().Get("room"), r.Header.Get("Authorization")}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	creds := func(context.Context, *url.URL) (mqttgame.Credentials, error) {
		return mqttgame.Credentials{
			Query:  url.Values{"token": {"secret-token"}},
			Header: http.Header{"Authorization": {"Bearer secret-token"}},
		}, nil
	}
	brokerURL := "ws://" + strings.TrimPrefix(front.URL, "http://") + "/mqtt?room=7"
	c := newClient(t, brokerURL, func(o *mqttgame.Options) { o.Credentials = creds })
	connect(t, c)
	if s := <-got; s != (seen{"secret-token", "7", "Bearer secret-token"}) {
		t.Errorf("the handshake carried %+v, want the token in the query beside room=7, and the header", s)
	}
	if strings.Contains(c.Broker(), "secret") {
		t.Errorf("Broker() = %s, shows the token", c.Broker())
	}

	closed := newClient(t, "ws://127.0.0.1:1/mqtt", func(o *mqttgame.Options) { o.Credentials = creds })
	if err := closed.Connect(); err != nil {
		t.Fatal(err)
	}
	tickUntil(t, "a failed attempt", closed.ConnectFailed, closed)
	if err := closed.Err(); err == nil || strings.Contains(err.Error(), "secret") || !errors.Is(err, mqttgame.ErrUnreachable) {
		t.Errorf("failed dial: %v; want ErrUnreachable, without the token", err)
	}
}

//go:build !js

package host

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func tickUntil(t *testing.T, what string, cond func() bool, clients ...*mqttgame.Client) {
	t.Helper()
	mqtttest.TickUntil(t, what, func() {
		for _, c := range clients {
			c.Update()
		}
	}, cond, nil)
}

// publishOutcome publishes and returns what the broker answered.
func publishOutcome(t *testing.T, c *mqttgame.Client, topic string) error {
	t.Helper()
	id, err := c.PublishString(topic, "x", 1, true)
	if err != nil {
		t.Fatal(err)
	}
	var result error
	done := false
	tickUntil(t, "the broker's answer to "+topic, func() bool {
		for _, e := range c.AppendEvents(nil) {
			if e.ID == id {
				done, result = true, e.Err
			}
		}
		return done
	}, c)
	return result
}

func hostWithRules(t *testing.T, dir string) *Host {
	t.Helper()
	h, err := Start(Options{Listen: "127.0.0.1:0", DataDir: dir, Persist: []string{game.PersistFilter}, Rules: game.AccessRules()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHostedAccessControl: in hosted mode each player claims a name with
// a key kept on their machine; nobody else gets that name, and nobody can
// write another player's presence or score: the broker refuses with "not
// authorized", which the publisher sees. Claims survive a restart.
func TestHostedAccessControl(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir()) // where this machine keeps its keys
	t.Setenv("HOME", t.TempDir())
	dir := t.TempDir()
	h := hostWithRules(t, dir)
	defer func() { h.Close() }()

	user, pass, err := h.Credentials("ann")
	if err != nil || user != "ann" || len(pass) < 16 {
		t.Fatalf("Credentials(ann) = %q, %q, %v", user, pass, err)
	}
	if u2, p2, err := h.Credentials("ann"); err != nil || u2 != user || p2 != pass {
		t.Fatalf("asking again gave %q, %q, %v; want the same key", u2, p2, err)
	}
	ann, err := mqttgame.New(&mqttgame.Options{Brokers: []string{h.BrokerURL}, Username: user, Password: pass})
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	ann.Connect()
	tickUntil(t, "ann connected", ann.IsConnected, ann)

	room := game.TopicsOf("lobby")
	for _, own := range []string{room.Presence + "/ann", room.Scores + "/ann", room.Chat + "/ann"} {
		if err := publishOutcome(t, ann, own); err != nil {
			t.Errorf("ann writing %s: %v", own, err)
		}
	}
	for _, forged := range []string{room.Presence + "/bob", room.Scores + "/bob", room.Chat + "/bob", room.Chat} {
		if err := publishOutcome(t, ann, forged); !errors.Is(err, mqttgame.ReasonNotAuthorized) {
			t.Errorf("ann writing %s: err = %v, want ReasonNotAuthorized", forged, err)
		}
	}

	// Someone else asking for "ann", with another key, is refused.
	if err := h.claim("ann", "a-different-key-0123456789"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("second claim of ann: %v, want ErrNameTaken", err)
	}
	resp, err := http.Get(h.WebURL + "join?" + url.Values{"player": {"ann"}, "key": {"a-different-key-0123456789"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("GET /join for a taken name: %d %s, want 409", resp.StatusCode, body)
	}
	// And cannot log in with a guessed password.
	eve, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{h.BrokerURL}, Username: "ann", Password: "guess-guess-guess", ReconnectDelay: time.Hour})
	defer eve.Close()
	eve.Connect()
	tickUntil(t, "eve refused", eve.ConnectFailed, eve)
	if !errors.Is(eve.Err(), mqttgame.ReasonBadUsernameOrPassword) {
		t.Fatalf("eve as ann: %v, want ReasonBadUsernameOrPassword", eve.Err())
	}

	// A spectator reads everything and writes no one's presence.
	spectator, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{h.BrokerURL}})
	defer spectator.Close()
	spectator.Connect()
	spectator.Subscribe("#", 0)
	tickUntil(t, "spectator subscribed to #", func() bool { return spectator.IsSubscribed("#") }, spectator)
	for _, forged := range []string{room.Presence + "/ann", room.Chat + "/ann", room.Chat, room.Scores + "/Bot"} {
		if err := publishOutcome(t, spectator, forged); !errors.Is(err, mqttgame.ReasonNotAuthorized) {
			t.Fatalf("spectator writing %s: %v, want ReasonNotAuthorized", forged, err)
		}
	}
	ann.Close()
	eve.Close()
	spectator.Close()

	// After a restart of the host, ann's key still works and the name is
	// still hers.
	h.Close()
	h = hostWithRules(t, dir)
	if err := h.claim("ann", pass); err != nil {
		t.Fatalf("ann after the restart: %v", err)
	}
	if err := h.claim("ann", "a-different-key-0123456789"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("another ann after the restart: %v, want ErrNameTaken", err)
	}
}

// TestJoinerGetsCredentialsFromHost: a second process (the joiner) claims
// its name over HTTP from the host.
func TestJoinerGetsCredentialsFromHost(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	h := hostWithRules(t, "")
	defer h.Close()
	joiner := &Host{BrokerURL: h.BrokerURL, WebURL: h.WebURL}
	user, pass, err := joiner.Credentials("bob")
	if err != nil || user != "bob" || pass == "" {
		t.Fatalf("joiner's Credentials(bob) = %q, %q, %v", user, pass, err)
	}
	bob, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{h.BrokerURL}, Username: user, Password: pass})
	defer bob.Close()
	bob.Connect()
	tickUntil(t, "bob connected", bob.IsConnected, bob)
	if err := publishOutcome(t, bob, game.TopicsOf("den").Scores+"/bob"); err != nil {
		t.Fatalf("bob writing his score: %v", err)
	}
	if _, _, err := (&Host{WebURL: h.WebURL}).Credentials("ann/#"); err == nil {
		t.Fatal("a player ID with '/' and '#' was accepted")
	}
}

// TestJoinOnlyAnotherCopy: a second copy joins the first; a port held by
// any other program is refused with what it is and how to pick another.
func TestJoinOnlyAnotherCopy(t *testing.T) {
	first, err := Start(Options{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	addr := strings.TrimSuffix(strings.TrimPrefix(first.BrokerURL, "ws://"), "/mqtt")
	second, err := Start(Options{Listen: addr}, slog.New(slog.DiscardHandler))
	if err != nil || second.Hosting || second.BrokerURL != first.BrokerURL {
		t.Fatalf("a second copy on %s: %+v, %v; want it to join the first", addr, second, err)
	}

	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "some-web-server")
		http.NotFound(w, r)
	}))
	defer other.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, tc := range []struct{ addr, says string }{
		{strings.TrimPrefix(other.URL, "http://"), `"some-web-server"`},
		{silent.Addr().String(), "does not answer as a web server"},
	} {
		h, err := Start(Options{Listen: tc.addr}, slog.New(slog.DiscardHandler))
		if !errors.Is(err, ErrPortTaken) {
			t.Fatalf("hosting on %s, held by another program: %+v, %v; want ErrPortTaken", tc.addr, h, err)
		}
		if msg := err.Error(); !strings.Contains(msg, tc.says) || !strings.Contains(msg, "-listen 127.0.0.1:") {
			t.Fatalf("the error %q does not say what holds the port (%s) and how to pick another", msg, tc.says)
		}
	}
}

// TestExternalBrokerURL: a -broker URL's user name and password are taken
// out of it to log in with, so the URL shown holds no password; a URL the
// client would refuse is refused at start, saying why, without the
// password.
func TestExternalBrokerURL(t *testing.T) {
	h, err := Start(Options{Broker: "ws://bob:s3cret@broker.example:8080/mqtt"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if h.BrokerURL != "ws://broker.example:8080/mqtt" {
		t.Errorf("BrokerURL %q, want it without the credentials", h.BrokerURL)
	}
	if user, pass, err := h.Credentials("ann"); user != "bob" || pass != "s3cret" || err != nil {
		t.Errorf("Credentials = %q, %q, %v; want the URL's bob, s3cret", user, pass, err)
	}
	for _, bad := range []string{"http://bob:s3cret@broker.example/", "ws//broker.example", "ws://bob:s3cret@broker.example:99999/mqtt", "ws://bob:s3cret@[::1/"} {
		_, err := Start(Options{Broker: bad}, slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("-broker %q was accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestJoinAsksAgainAfterTimeout: a host too busy to answer /join in time
// is asked again, and a host that refuses the connection is not.
func TestJoinAsksAgainAfterTimeout(t *testing.T) {
	defer func(timeout, patience, pause time.Duration) {
		joinTimeout, joinPatience, joinPause = timeout, patience, pause
	}(joinTimeout, joinPatience, joinPause)
	joinTimeout, joinPatience, joinPause = 100*time.Millisecond, 5*time.Second, 10*time.Millisecond

	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) < 3 {
			time.Sleep(300 * time.Millisecond) // busy: past the client's timeout
		}
		fmt.Fprintf(w, `{"username":%q}`, r.URL.Query().Get("player"))
	}))
	defer srv.Close()
	user, _, err := joinRemote(srv.URL, "ann", "a-key-of-sixteen-chars")
	if err != nil || user != "ann" || asked.Load() != 3 {
		t.Fatalf("joinRemote = %q, %v after %d requests; want ann after 3", user, err, asked.Load())
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	start := time.Now()
	if _, _, err := joinRemote(refused, "ann", "a-key-of-sixteen-chars"); err == nil || time.Since(start) > time.Second {
		t.Fatalf("joinRemote to a closed port: %v after %v; want an error at once", err, time.Since(start))
	}
}

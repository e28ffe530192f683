//go:build !js

package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mqttgame/mqttgame/internal/mqtttest"
	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// register opens a register in dir on a broker that tells it of logins,
// with a clock the test moves.
func register(t *testing.T, dir string, now *time.Time) (*players, *broker.Broker) {
	t.Helper()
	logins := &loginRelay{}
	b := mqtttest.StartBroker(t, &broker.Options{Auth: &broker.Auth{OnLogin: logins.tell}})
	p, err := openPlayers(dir, b)
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return *now }
	logins.set(p.used)
	t.Cleanup(p.close)
	return p, b
}

// TestClaimsLimitedPerAddress: one address claims at most 20 new names a
// minute; asking again for a name it holds is not a new claim.
func TestClaimsLimitedPerAddress(t *testing.T) {
	now := time.Now()
	p, _ := register(t, "", &now)
	srv := httptest.NewServer(p)
	defer srv.Close()
	get := func(id, key string) *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "?player=" + id + "&key=" + key)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range claimsPerWindow {
		if resp := get(fmt.Sprint("p", i), "key-of-sixteen-chars"); resp.StatusCode != http.StatusOK {
			t.Fatalf("claim %d: %s", i+1, resp.Status)
		}
	}
	resp := get("one-too-many", "key-of-sixteen-chars")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("claim %d from one address: %s, Retry-After %q; want 429 with Retry-After", claimsPerWindow+1, resp.Status, resp.Header.Get("Retry-After"))
	}
	if resp := get("p0", "key-of-sixteen-chars"); resp.StatusCode != http.StatusOK {
		t.Fatalf("asking again for a name held: %s", resp.Status)
	}
	if err := p.claim("the-host's-own", "key-of-sixteen-chars", ""); err != nil {
		t.Fatalf("the hosting process's own player: %v", err)
	}
	now = now.Add(claimWindow)
	if resp := get("next-minute", "key-of-sixteen-chars"); resp.StatusCode != http.StatusOK {
		t.Fatalf("a claim a minute later: %s", resp.Status)
	}
}

// TestUnusedClaimLapses: a name claimed but never used to log in is free
// again after unusedClaimTTL, and its key no longer logs in; a name its
// player logged in with stays theirs.
func TestUnusedClaimLapses(t *testing.T) {
	now := time.Now()
	p, b := register(t, "", &now)
	if err := p.claim("ann", "ann-key-0123456789", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if err := p.claim("bob", "bob-key-0123456789", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	bob, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}, Username: "bob", Password: "bob-key-0123456789"})
	defer bob.Close()
	bob.Connect()
	mqtttest.TickUntil(t, "bob logged in", bob.Update, bob.IsConnected, nil)

	now = now.Add(unusedClaimTTL - time.Second)
	if err := p.claim("ann", "eve-key-0123456789", "10.0.0.2"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("ann's name before it lapsed: %v, want ErrNameTaken", err)
	}
	now = now.Add(time.Second)
	if err := p.claim("bob", "eve-key-0123456789", "10.0.0.2"); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("bob's name, used: %v, want ErrNameTaken", err)
	}
	if err := p.claim("ann", "eve-key-0123456789", "10.0.0.2"); err != nil {
		t.Fatalf("ann's name, claimed %v ago and never used: %v, want it free", unusedClaimTTL, err)
	}
	old, _ := mqttgame.New(&mqttgame.Options{Brokers: []string{b.URL()}, Username: "ann", Password: "ann-key-0123456789", ReconnectDelay: time.Hour})
	defer old.Close()
	old.Connect()
	mqtttest.TickUntil(t, "the lapsed key refused", old.Update, old.ConnectFailed, nil)
	if !errors.Is(old.Err(), mqttgame.ReasonBadUsernameOrPassword) {
		t.Fatalf("the lapsed key: %v, want ReasonBadUsernameOrPassword", old.Err())
	}
}

// TestRegisterKeptWhole: many claims in a burst are all in the file once
// the register closes, written whole (no temporary file left), and a
// file of the earlier form (ID → key) still reads, its names kept.
func TestRegisterKeptWhole(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, playersFile), []byte(`{"old-timer":"old-key-0123456789"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	p, _ := register(t, dir, &now)
	for i := range 200 {
		if err := p.claim(fmt.Sprint("p", i), "key-of-sixteen-chars", ""); err != nil {
			t.Fatal(err)
		}
	}
	p.close()
	data, err := os.ReadFile(filepath.Join(dir, playersFile))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]claimRecord
	if err := json.Unmarshal(data, &claims); err != nil {
		t.Fatal(err)
	}
	if len(claims) != 201 || !claims["old-timer"].Used || claims["old-timer"].Key != "old-key-0123456789" {
		t.Fatalf("the file holds %d claims, old-timer %+v; want 201 with old-timer kept", len(claims), claims["old-timer"])
	}
	if _, err := os.Stat(filepath.Join(dir, playersFile+".new")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a temporary file was left: %v", err)
	}
}

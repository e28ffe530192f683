//go:build !js

package host

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// playersFile keeps who claimed which name, beside the high scores.
const playersFile = "players.json"

// ErrNameTaken is the answer to a player who asks for a name another
// player claimed first.
var ErrNameTaken = errors.New("that name is taken: pick another")

// ErrTooManyClaims is the answer to an address that claimed too many
// names lately.
var ErrTooManyClaims = errors.New("too many names claimed from this address lately: try again in a minute")

// The register's limits.
const (
	// unusedClaimTTL is how long a claim that never logged in holds its
	// name: a page that claimed a name and never connected does not keep
	// it from everyone else for ever.
	unusedClaimTTL = 10 * time.Minute
	// claimsPerWindow new names may be claimed from one address per
	// claimWindow; asking again for a name one holds does not count.
	claimsPerWindow = 20
	claimWindow     = time.Minute
	// saveEvery is the longest a new claim waits to be written: the file
	// is written once for all the claims of that time, not once each.
	saveEvery = time.Second
)

// claimRecord is one name's claim.
type claimRecord struct {
	Key     string    `json:"key"`
	Claimed time.Time `json:"claimed"`
	Used    bool      `json:"used"` // its player logged in at least once
}

// players is a hosting broker's register of names: the first player to
// use a name claims it with a key only they keep, and the broker lets
// only that key in under that name. So no one else can write their
// presence or their scores. A claim never used to log in lapses after
// unusedClaimTTL; one that was used never does.
type players struct {
	b    *broker.Broker
	file string // "" keeps them in memory
	now  func() time.Time

	mu     sync.Mutex
	claims map[string]*claimRecord // by player ID; the key is also the password
	recent map[string]*addrClaims  // new claims by remote address, this window
	dirty  bool                    // claims changed since the file was written
	saved  chan struct{}           // signalled when a change waits to be written
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

// addrClaims counts an address's new claims in its current window.
type addrClaims struct {
	since time.Time
	n     int
}

func openPlayers(dir string, b *broker.Broker) (*players, error) {
	p := &players{
		b: b, now: time.Now,
		claims: make(map[string]*claimRecord), recent: make(map[string]*addrClaims),
		saved: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if dir != "" {
		p.file = filepath.Join(dir, playersFile)
		data, err := os.ReadFile(p.file)
		switch {
		case err == nil:
			if err := p.read(data); err != nil {
				return nil, fmt.Errorf("reading %s: %w", p.file, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	for id, c := range p.claims {
		b.AddUser(id, c.Key)
	}
	go p.saving()
	return p, nil
}

// read loads the register; a file of an earlier version (ID → key) holds
// claims taken as used, as they were kept for ever.
func (p *players) read(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	for id, v := range raw {
		c := new(claimRecord)
		if err := json.Unmarshal(v, &c.Key); err == nil {
			c.Used = true
		} else if err := json.Unmarshal(v, c); err != nil {
			return fmt.Errorf("the claim of %q: %w", id, err)
		}
		p.claims[id] = c
	}
	return nil
}

// used records that a player logged in: their claim no longer lapses.
// The broker calls it at each login.
func (p *players) used(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.claims[id]; c != nil && !c.Used {
		c.Used = true
		p.changedLocked()
	}
}

// claim lets id in with key: the first key given for an id is the only
// one accepted afterwards, unless that claim lapsed unused. addr is the
// claimer's address ("" for this process's own player).
func (p *players) claim(id, key, addr string) error {
	if err := checkClaim(id, key); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if had, ok := p.claims[id]; ok && (had.Used || now.Sub(had.Claimed) < unusedClaimTTL) {
		if subtle.ConstantTimeCompare([]byte(had.Key), []byte(key)) != 1 {
			return ErrNameTaken
		}
		return nil
	}
	if addr != "" && !p.allowLocked(addr, now) {
		return ErrTooManyClaims
	}
	p.claims[id] = &claimRecord{Key: key, Claimed: now}
	p.b.AddUser(id, key)
	p.lapseLocked(now)
	p.changedLocked()
	return nil
}

// allowLocked counts a new claim from addr, and reports whether it is
// within the address's limit.
func (p *players) allowLocked(addr string, now time.Time) bool {
	r := p.recent[addr]
	if r == nil || now.Sub(r.since) >= claimWindow {
		if len(p.recent) > 10000 { // bounded, whatever the addresses
			for a, old := range p.recent {
				if now.Sub(old.since) >= claimWindow {
					delete(p.recent, a)
				}
			}
		}
		r = &addrClaims{since: now}
		p.recent[addr] = r
	}
	if r.n >= claimsPerWindow {
		return false
	}
	r.n++
	return true
}

// lapseLocked forgets the claims that lapsed unused.
func (p *players) lapseLocked(now time.Time) {
	for id, c := range p.claims {
		if !c.Used && now.Sub(c.Claimed) >= unusedClaimTTL {
			delete(p.claims, id)
			p.b.RemoveUser(id)
		}
	}
}

func (p *players) changedLocked() {
	p.dirty = true
	select {
	case p.saved <- struct{}{}:
	default:
	}
}

// saving writes the register when it changed, at most once per
// saveEvery, until close.
func (p *players) saving() {
	defer close(p.done)
	for {
		select {
		case <-p.saved:
		case <-p.stop:
			p.save()
			return
		}
		select {
		case <-time.After(saveEvery):
		case <-p.stop:
		}
		p.save()
	}
}

// save writes the register if it changed. The file is replaced whole, so
// a stop mid-write leaves the previous register; a claim answered but not
// yet written when the host stops is made again, with the same key, by
// its player.
func (p *players) save() {
	p.mu.Lock()
	if !p.dirty || p.file == "" {
		p.mu.Unlock()
		return
	}
	data, err := json.Marshal(p.claims)
	p.dirty = false
	p.mu.Unlock()
	if err == nil {
		tmp := p.file + ".new"
		if err = os.WriteFile(tmp, data, 0o600); err == nil {
			err = os.Rename(tmp, p.file)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "the players' names were not saved: %v\n", err)
	}
}

// close writes what is left and stops saving. Calling it again does
// nothing.
func (p *players) close() {
	p.closed.Do(func() { close(p.stop) })
	<-p.done
}

func checkClaim(id, key string) error {
	switch {
	case id == "" || len(id) > 256 || strings.ContainsAny(id, "/+#"):
		return fmt.Errorf("not a player ID: %q", id)
	case len(key) < 16 || len(key) > 128:
		return errors.New("the key must be 16 to 128 characters long")
	}
	return nil
}

// ServeHTTP answers GET /join?player=ID&key=KEY: 200 with the user name
// to connect with, 409 if another player has the name, 429 to an address
// that claimed too many names lately, 400 for nonsense.
func (p *players) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, key := r.URL.Query().Get("player"), r.URL.Query().Get("key")
	addr, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		addr = r.RemoteAddr
	}
	err = p.claim(id, key, addr)
	switch {
	case errors.Is(err, ErrNameTaken):
		http.Error(w, err.Error(), http.StatusConflict)
	case errors.Is(err, ErrTooManyClaims):
		w.Header().Set("Retry-After", strconv.Itoa(int(claimWindow/time.Second)))
		http.Error(w, err.Error(), http.StatusTooManyRequests)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"username": id, "protocol": game.ProtocolVersion})
	}
}

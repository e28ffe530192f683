//go:build !js

package host

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mqttgame/mqttgame/demo/game"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// playersFile keeps who claimed which name, beside the high scores.
const playersFile = "players.json"

// ErrNameTaken is the answer to a player who asks for a name another
// player claimed first.
var ErrNameTaken = errors.New("that name is taken: pick another")

// players is a hosting broker's register of names: the first player to
// use a name claims it with a key only they keep, and the broker lets
// only that key in under that name. So no one else can write their
// presence or their scores.
type players struct {
	mu      sync.Mutex
	keys    map[string]string // player ID → key, which is also their password
	version int               // changes of keys so far
	file    string            // "" keeps them in memory
	b       *broker.Broker

	saveMu sync.Mutex // orders writes of the file
	saved  int        // the version the file holds
}

func openPlayers(dir string, b *broker.Broker) (*players, error) {
	p := &players{keys: make(map[string]string), b: b}
	if dir != "" {
		p.file = filepath.Join(dir, playersFile)
		data, err := os.ReadFile(p.file)
		switch {
		case err == nil:
			if err := json.Unmarshal(data, &p.keys); err != nil {
				return nil, fmt.Errorf("reading %s: %w", p.file, err)
			}
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		}
	}
	for id, key := range p.keys {
		b.AddUser(id, key)
	}
	return p, nil
}

// claim lets id in with key: the first key given for an id is the only
// one accepted afterwards.
func (p *players) claim(id, key string) error {
	if err := checkClaim(id, key); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if had, ok := p.keys[id]; ok {
		if subtle.ConstantTimeCompare([]byte(had), []byte(key)) != 1 {
			return ErrNameTaken
		}
		return nil
	}
	p.keys[id] = key
	p.version++
	p.b.AddUser(id, key)
	if p.file == "" {
		return nil
	}
	return p.saveLocked()
}

// saveLocked writes the register to its file, with mu held on entry and
// released meanwhile: a disk that is slow to take the write (a busy
// machine) holds up only the claims that wait for it, not the others'
// answers. A claim answered before its write lands is lost only if the
// host stops first, and then its player claims the name again with the
// same key. The file is replaced whole, so a stop mid-write leaves the
// previous register.
func (p *players) saveLocked() error {
	data, err := json.Marshal(p.keys)
	version := p.version
	p.mu.Unlock()
	defer p.mu.Lock()
	if err != nil {
		return err
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	if p.saved >= version {
		return nil // a later claim's write holds this one too
	}
	tmp := p.file + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.file); err != nil {
		return err
	}
	p.saved = version
	return nil
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
// to connect with, 409 if another player has the name, 400 for nonsense.
func (p *players) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, key := r.URL.Query().Get("player"), r.URL.Query().Get("key")
	err := p.claim(id, key)
	switch {
	case errors.Is(err, ErrNameTaken):
		http.Error(w, err.Error(), http.StatusConflict)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"username": id, "protocol": game.ProtocolVersion})
	}
}

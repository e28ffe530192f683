//go:build !js

package host

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
)

var keysMu sync.Mutex

// keysPath is where this machine keeps its players' keys.
func keysPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "mqttgame-demo", "keys.json"), nil
}

// playerKey returns the key this machine uses for a player ID, making
// and keeping one the first time.
func playerKey(playerID string) (string, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	path, err := keysPath()
	if err != nil {
		return "", err
	}
	keys := map[string]string{}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &keys); err != nil {
			keys = map[string]string{} // unreadable: start over
		}
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	if key, ok := keys[playerID]; ok {
		return key, nil
	}
	key := newKey()
	keys[playerID] = key
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	data, _ = json.Marshal(keys)
	return key, os.WriteFile(path, data, 0o600)
}

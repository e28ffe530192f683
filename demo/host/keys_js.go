package host

import "syscall/js"

// playerKey returns the key this browser uses for a player ID, kept in
// the page's local storage.
func playerKey(playerID string) (string, error) {
	store := js.Global().Get("localStorage")
	name := "mqttgame-demo-key:" + playerID
	if v := store.Call("getItem", name); !v.IsNull() && v.String() != "" {
		return v.String(), nil
	}
	key := newKey()
	store.Call("setItem", name, key)
	return key, nil
}

package host

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Credentials returns the user name and password a player connects with:
// the player's ID, and the key they claimed the name with, made on first
// use and kept on this machine (in the browser, in the page's storage).
// A broker given with -broker wants none. It may take a network round
// trip: call it off the game loop.
func (h *Host) Credentials(playerID string) (username, password string, err error) {
	if h.claim == nil && h.WebURL == "" {
		return h.username, h.password, nil
	}
	key, err := playerKey(playerID)
	if err != nil {
		return "", "", fmt.Errorf("cannot keep the player's key: %w", err)
	}
	if h.claim != nil {
		if err := h.claim(playerID, key); err != nil {
			return "", "", err
		}
		return playerID, key, nil
	}
	return joinRemote(h.WebURL, playerID, key)
}

// Asking the hosting process for a name: each try may take joinTimeout,
// and a try that times out is made again until joinPatience has passed. A
// host on a busy machine (or a page still busy loading the game) can take
// seconds to answer; a claim is safe to ask again, as the same key gets
// the same answer. A host that refuses the connection is not asked again.
var (
	joinTimeout  = 20 * time.Second
	joinPatience = time.Minute
	joinPause    = time.Second
)

// joinRemote asks the hosting process for the name.
func joinRemote(web, playerID, key string) (string, string, error) {
	u := strings.TrimSuffix(web, "/") + "/join?" + url.Values{"player": {playerID}, "key": {key}}.Encode()
	cl := &http.Client{Timeout: joinTimeout}
	giveUp := time.Now().Add(joinPatience)
	resp, err := cl.Get(u)
	for timedOut(err) && time.Now().Add(joinPause).Before(giveUp) {
		time.Sleep(joinPause)
		resp, err = cl.Get(u)
	}
	if err != nil {
		return "", "", fmt.Errorf("cannot reach the host: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch resp.StatusCode {
	case http.StatusOK:
		var answer struct{ Username string }
		if err := json.Unmarshal(body, &answer); err != nil || answer.Username == "" {
			return "", "", errors.New("the host gave no user name")
		}
		return answer.Username, key, nil
	case http.StatusNotFound:
		// A host that asks for no credentials (an older build, a plain
		// web server in front of a broker).
		return "", "", nil
	default:
		return "", "", errors.New(strings.TrimSpace(string(body)))
	}
}

// timedOut reports whether err is a request that ran out of time.
func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// newKey makes a key for a name.
func newKey() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

package mqttgame_test

import (
	"context"
	"net/http"
	"net/url"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// fetchToken stands in for a call to the game's login service, which
// hands out tokens that expire within minutes.
func fetchToken(ctx context.Context) (string, error) { return "eyJhbGciOi…", nil }

// A broker that takes short-lived tokens: a fresh one for each
// connection attempt, in the password, the WebSocket URL's query and (off
// the browser) the handshake's Authorization header.
func ExampleOptions_credentials() {
	c, err := mqttgame.New(&mqttgame.Options{
		Brokers: []string{"wss://mqtt.example.com/mqtt"},
		Credentials: func(ctx context.Context, broker *url.URL) (mqttgame.Credentials, error) {
			token, err := fetchToken(ctx)
			if err != nil {
				return mqttgame.Credentials{}, err // the attempt fails with ErrCredentials
			}
			return mqttgame.Credentials{
				Username: "player",
				Password: token,
				Query:    url.Values{"token": {token}},
				Header:   http.Header{"Authorization": {"Bearer " + token}},
			}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Connect()
}

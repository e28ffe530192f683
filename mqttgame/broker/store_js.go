//go:build js

package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/mqttgame/mqttgame/mqttgame/broker/internal/mochifix"
)

// diskStore stands in for the on-disk store, which a browser cannot have.
type diskStore struct {
	mqtt.HookBase
	Store mochifix.SessionStore
}

// openStore fails in the browser, which has no files to keep messages in.
func openStore(string, []string, bool) (*diskStore, error) {
	return nil, errors.New("broker: Options.DataDir is not available in the browser")
}

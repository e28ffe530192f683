package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// openStore fails in the browser, which has no files to keep messages in.
func openStore(string, []string) (mqtt.Hook, error) {
	return nil, errors.New("broker: Options.DataDir is not available in the browser")
}

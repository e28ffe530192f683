//go:build js

package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// diskStore stands in for the on-disk store, which a browser cannot have.
type diskStore struct{ *mqtt.HookBase }

// openStore fails in the browser, which has no files to keep messages in.
func openStore(string, []string, bool) (*diskStore, error) {
	return nil, errors.New("broker: Options.DataDir is not available in the browser")
}

func (*diskStore) save(*mqtt.Client, packets.Packet)   {}
func (*diskStore) forget(*mqtt.Client, packets.Packet) {}

//go:build js

package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// boltStore stands in for the on-disk store, which a browser cannot have.
type boltStore struct{ *mqtt.HookBase }

type storeConfig struct{ Path string }

func newBoltStore(dir string) (boltStore, *storeConfig) {
	return boltStore{new(mqtt.HookBase)}, &storeConfig{Path: dir}
}

func (boltStore) ID() string { return "store" }

// Init refuses: Options.DataDir has no meaning in a browser.
func (boltStore) Init(any) error {
	return errors.New("broker: DataDir is not available in the browser")
}

func (boltStore) save(*mqtt.Client, packets.Packet)   {}
func (boltStore) forget(*mqtt.Client, packets.Packet) {}

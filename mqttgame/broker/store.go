//go:build !js

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// storeFile is the database a broker keeps in Options.DataDir.
const storeFile = "retained.db"

// retainedStore is mochi-mqtt's bolt storage hook narrowed to retained
// messages: sessions are not worth a disk write per QoS 1 message to a
// game, and a client record restored from an earlier run would come back
// with a will that no one can cancel.
type retainedStore struct {
	*bolt.Hook
	persist []string // filters of the topics kept; nil keeps all
}

func openStore(dir string, persist []string) (*retainedStore, error) {
	for _, f := range persist {
		if err := mqttgame.ValidateFilter(f); err != nil {
			return nil, fmt.Errorf("broker: Persist: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: cannot create the data folder: %w", err)
	}
	path := filepath.Join(dir, storeFile)
	h := new(bolt.Hook)
	err := h.Init(&bolt.Options{Path: path, Options: &bbolt.Options{Timeout: time.Second}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("broker: the data folder %s is in use by another broker", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: cannot open %s: %w", path, err)
	}
	return &retainedStore{Hook: h, persist: persist}, nil
}

func (s *retainedStore) ID() string { return "retained-store" }

func (s *retainedStore) Provides(b byte) bool {
	switch b {
	case mqtt.OnRetainMessage, mqtt.OnRetainedExpired, mqtt.StoredRetainedMessages:
		return true
	}
	return false
}

// Init does nothing: openStore opened the database already, so that its
// errors read plainly.
func (s *retainedStore) Init(any) error { return nil }

func (s *retainedStore) kept(topic string) bool {
	if s.persist == nil {
		return true
	}
	for _, f := range s.persist {
		if mqttgame.Match(f, topic) {
			return true
		}
	}
	return false
}

// OnRetainMessage writes a retained message to disk, or deletes it
// there when it was cleared.
func (s *retainedStore) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if s.kept(pk.TopicName) {
		s.Hook.OnRetainMessage(cl, pk, r)
	}
}

// StoredRetainedMessages hands the broker what earlier runs kept, less
// what Persist no longer names.
func (s *retainedStore) StoredRetainedMessages() ([]storage.Message, error) {
	all, err := s.Hook.StoredRetainedMessages()
	kept := all[:0]
	for _, m := range all {
		if s.kept(m.TopicName) {
			kept = append(kept, m)
		}
	}
	return kept, err
}

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
	"github.com/mqttgame/mqttgame/mqttgame/broker/internal/mochifix"
)

// storeFile is the database a broker keeps in Options.DataDir.
const storeFile = "broker.db"

// diskStore is mochi-mqtt's bolt storage hook, with the repairs of
// package mochifix, narrowed to retained messages unless sessions are kept
// too, and to the retained messages under Persist.
type diskStore struct {
	*mochifix.Store
	persist  []string // filters of the retained topics kept; nil keeps all
	sessions bool     // sessions are kept too
}

func openStore(dir string, persist []string, sessions bool) (*diskStore, error) {
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
	// Kept sessions cost several writes per QoS 1 and 2 message: without
	// fsync, what was written still survives the process ending (even
	// killed); only a crash of the operating system could lose the last
	// writes. Retained messages alone are few and are synced.
	err := h.Init(&bolt.Options{Path: path, Options: &bbolt.Options{Timeout: time.Second, NoSync: sessions}})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("broker: the data folder %s is in use by another broker", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: cannot open %s: %w", path, err)
	}
	return &diskStore{Store: mochifix.NewStore(h, sessions), persist: persist, sessions: sessions}, nil
}

func (s *diskStore) ID() string { return "disk-store" }

func (s *diskStore) Provides(b byte) bool {
	if s.sessions {
		return s.Store.Provides(b)
	}
	switch b {
	case mqtt.OnRetainMessage, mqtt.OnRetainedExpired, mqtt.StoredRetainedMessages:
		return true
	}
	return false
}

// Init does nothing: openStore opened the database already, so that its
// errors read plainly.
func (s *diskStore) Init(any) error { return nil }

func (s *diskStore) kept(topic string) bool {
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
func (s *diskStore) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if s.kept(pk.TopicName) {
		s.Store.OnRetainMessage(cl, pk, r)
	}
}

// StoredRetainedMessages hands the broker what earlier runs kept, less
// what Persist no longer names.
func (s *diskStore) StoredRetainedMessages() ([]storage.Message, error) {
	all, err := s.Store.StoredRetainedMessages()
	kept := all[:0]
	for _, m := range all {
		if s.kept(m.TopicName) {
			kept = append(kept, m)
		}
	}
	return kept, err
}

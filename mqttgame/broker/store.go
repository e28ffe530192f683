//go:build !js

package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"

	"github.com/mqttgame/mqttgame/mqttgame"
)

// storeFile is the database a broker keeps in Options.DataDir.
const storeFile = "broker.db"

// diskStore is mochi-mqtt's bolt storage hook, narrowed to retained
// messages unless sessions are kept too, with repairs for mochi v2.7.9
// that a broker restart under QoS 2 traffic needs:
//
//   - The packet identifier of in-flight messages is not saved, and a
//     session holding an in-flight message with identifier 0 can never be
//     resumed (every reconnection fails with "missing packet id"). The
//     identifier is also the end of the storage key, so it is restored
//     from there on load.
//   - When a client confirms a QoS 2 message with PUBREC, mochi replaces
//     the message by its PUBREL in memory only. After a restart it would
//     send the message again, and a client that had completed it would
//     get it twice. The PUBREL is saved here instead.
//   - When a session is taken over, mochi clears the old session object
//     after copying its messages to the new one; both share the saved
//     entries, which now belong to the new one and are kept.
type diskStore struct {
	*bolt.Hook
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
	return &diskStore{Hook: h, persist: persist, sessions: sessions}, nil
}

func (s *diskStore) ID() string { return "disk-store" }

func (s *diskStore) Provides(b byte) bool {
	if s.sessions {
		return b == mqtt.OnPacketProcessed || s.Hook.Provides(b)
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
		s.Hook.OnRetainMessage(cl, pk, r)
	}
}

// StoredRetainedMessages hands the broker what earlier runs kept, less
// what Persist no longer names.
func (s *diskStore) StoredRetainedMessages() ([]storage.Message, error) {
	all, err := s.Hook.StoredRetainedMessages()
	kept := all[:0]
	for _, m := range all {
		if s.kept(m.TopicName) {
			kept = append(kept, m)
		}
	}
	return kept, err
}

// StoredInflightMessages returns the saved in-flight messages, with their
// packet identifiers.
func (s *diskStore) StoredInflightMessages() ([]storage.Message, error) {
	msgs, err := s.Hook.StoredInflightMessages()
	for i := range msgs {
		m := &msgs[i]
		if m.PacketID != 0 {
			continue
		}
		if j := strings.LastIndexByte(m.ID, ':'); j >= 0 {
			if id, perr := strconv.ParseUint(m.ID[j+1:], 10, 16); perr == nil {
				m.PacketID = uint16(id)
			}
		}
	}
	return msgs, err
}

// OnQosDropped keeps the saved messages of a session taken over.
func (s *diskStore) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return
	}
	s.Hook.OnQosDropped(cl, pk)
}

// OnPacketProcessed saves the PUBREL that replaced a QoS 2 message the
// client confirmed.
func (s *diskStore) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if err != nil || pk.FixedHeader.Type != packets.Pubrec || pk.ReasonCode >= 0x80 {
		return
	}
	if rel, ok := cl.State.Inflight.Get(pk.PacketID); ok && rel.FixedHeader.Type == packets.Pubrel {
		s.Hook.OnQosPublish(cl, rel, rel.Created, 0)
	}
}

// save stores an in-flight message of cl's session, when sessions are kept.
func (s *diskStore) save(cl *mqtt.Client, pk packets.Packet) {
	if s != nil && s.sessions {
		s.Hook.OnQosPublish(cl, pk, pk.Created, 0)
	}
}

// forget removes an in-flight message of cl's session, when sessions are kept.
func (s *diskStore) forget(cl *mqtt.Client, pk packets.Packet) {
	if s != nil && s.sessions {
		s.Hook.OnQosComplete(cl, pk)
	}
}

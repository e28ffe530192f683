//go:build !js

package broker

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// storeFile is the name of the broker's database in Options.DataDir.
const storeFile = "broker.db"

// boltStore is mochi-mqtt's bbolt storage hook with two repairs for
// mochi v2.7.9, found by restarting the broker under QoS 2 traffic:
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
type boltStore struct {
	*bolt.Hook
}

// Provides adds OnPacketProcessed to what the bbolt hook provides.
func (s boltStore) Provides(b byte) bool {
	return b == mqtt.OnPacketProcessed || s.Hook.Provides(b)
}

// OnQosDropped keeps the saved messages of a session taken over: mochi
// clears the old session object after copying its messages to the new
// one, and both share the saved entries, which belong to the new one now.
func (s boltStore) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	if cl.IsTakenOver() {
		return
	}
	s.Hook.OnQosDropped(cl, pk)
}

// OnPacketProcessed saves the PUBREL that replaced a QoS 2 message the
// client confirmed.
func (s boltStore) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	if err != nil || pk.FixedHeader.Type != packets.Pubrec || pk.ReasonCode >= 0x80 {
		return
	}
	if rel, ok := cl.State.Inflight.Get(pk.PacketID); ok && rel.FixedHeader.Type == packets.Pubrel {
		s.Hook.OnQosPublish(cl, rel, rel.Created, 0)
	}
}

func newBoltStore(dir string) (boltStore, *bolt.Options) {
	return boltStore{new(bolt.Hook)}, &bolt.Options{
		Path: filepath.Join(dir, storeFile),
		// Without fsync, what was written survives the process ending
		// (even killed); only a crash of the operating system can lose
		// the last writes. Each QoS 1 and 2 message is written several
		// times, so fsync would cost the broker most of its speed.
		Options: &bbolt.Options{NoSync: true, Timeout: 5 * time.Second},
	}
}

// StoredInflightMessages returns the saved in-flight messages, with their
// packet identifiers.
func (s boltStore) StoredInflightMessages() ([]storage.Message, error) {
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

// save stores an in-flight message of cl's session.
func (s boltStore) save(cl *mqtt.Client, pk packets.Packet) {
	s.Hook.OnQosPublish(cl, pk, pk.Created, 0)
}

// forget removes an in-flight message of cl's session from the store.
func (s boltStore) forget(cl *mqtt.Client, pk packets.Packet) { s.Hook.OnQosComplete(cl, pk) }

package broker

import (
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"go.etcd.io/bbolt"
)

// storeFile is the name of the broker's database in Options.DataDir.
const storeFile = "broker.db"

// boltStore is mochi-mqtt's bbolt storage hook with one repair: mochi
// v2.7.9 does not save the packet identifier of in-flight messages, and a
// session holding an in-flight message with identifier 0 can never be
// resumed (every reconnection fails with "missing packet id"). The
// identifier is also the end of the storage key, so it is restored from
// there on load.
type boltStore struct {
	*bolt.Hook
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

//go:build !js

package mochifix

// # The bolt store loses the packet identifier of in-flight messages
//
// What is wrong: mochi's bolt storage hook saves an in-flight message
// without its packet identifier (storage.Message has the field, the hook
// never sets it), and a session that comes back from disk with an
// in-flight message whose identifier is 0 can never be resumed: every
// reconnection fails with "missing packet id".
//
// Upstream: no issue or pull request found for the identifier. The
// closest are mochi-mqtt/server#406 ("Bug in inflight message restore from
// datastore") and its fix mochi-mqtt/server#427 ("Fix QoS 1 message
// delivery after server restart"), which give restored messages to the
// right client but keep identifier 0.
//
// Repair: the identifier is also the end of the storage key
// ("clientID:packetID"), and StoredInflightMessages restores it from
// there.

import (
	"strconv"
	"strings"

	"github.com/mochi-mqtt/server/v2/hooks/storage"
)

// StoredInflightMessages returns the saved in-flight messages, with their
// packet identifiers.
func (s *Store) StoredInflightMessages() ([]storage.Message, error) {
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

//go:build !js

package mochifix

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Store is mochi's bolt storage hook with the repairs that keeping
// sessions across a restart needs: storepacketid.go, storepubrel.go,
// storetakeover.go and storeidreuse.go. It is also the SessionStore of the
// SessionGuard.
type Store struct {
	*bolt.Hook
	sessions bool
	mu       sync.Mutex // orders the saves and deletes of in-flight records (storeidreuse.go)
}

// NewStore wraps h, an initialised bolt hook. sessions says whether
// sessions are kept, or retained messages only.
func NewStore(h *bolt.Hook, sessions bool) *Store { return &Store{Hook: h, sessions: sessions} }

// Provides says which events the hook handles: the bolt hook's, and the
// end of a packet's processing for the PUBREL repair.
func (s *Store) Provides(b byte) bool {
	return b == mqtt.OnPacketProcessed || s.Hook.Provides(b)
}

// Save stores an in-flight message of cl's session, when sessions are
// kept.
func (s *Store) Save(cl *mqtt.Client, pk packets.Packet) {
	if s.sessions {
		s.OnQosPublish(cl, pk, pk.Created, 0)
	}
}

// Forget removes an in-flight message of cl's session, when sessions are
// kept.
func (s *Store) Forget(cl *mqtt.Client, pk packets.Packet) {
	if s.sessions {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.Hook.OnQosComplete(cl, pk)
	}
}

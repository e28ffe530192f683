//go:build !js

package mochifix

// # A packet identifier reused at once loses the new message on disk
//
// What is wrong: when a QoS 1 or 2 message to a client completes (PUBACK,
// PUBCOMP) or is dropped, mochi removes it from the session in memory
// first and tells the hooks afterwards (OnQosComplete, OnQosDropped); the
// bolt store then deletes its record, keyed by client ID and packet
// identifier. In between, a publisher's goroutine may route a new message
// to the session: mochi gives it the identifier just freed, and the store
// saves it under the same key before the old message's delete lands,
// which removes the new message's record. The session in memory is right;
// after a restart the message is gone: sent once, never sent again, and
// its identifier given to another message.
//
// Upstream: no issue or pull request found. The closest are
// mochi-mqtt/server#545 ("An inbound QoS 2 PUBLISH overwrites a server
// delivery that shares its packet identifier"), another loss through a
// shared identifier, and mochi-mqtt/server#162 ("failed to delete
// inflight data"), about the pairing of the store's saves and deletes.
//
// Repair: the Store saves and deletes in-flight records one at a time, and
// deletes a record only while the session holds no message under its
// identifier: mochi removed the old message from memory before calling
// the hook, so a message there took the identifier since, and the record
// is the new message's.

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// OnQosPublish saves an in-flight message.
func (s *Store) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Hook.OnQosPublish(cl, pk, sent, resends)
}

// OnQosComplete deletes the record of a message whose exchange ended,
// unless a new message took its identifier.
func (s *Store) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	s.drop(cl, pk)
}

// drop deletes the record of a message mochi removed from cl's session,
// unless the session holds a message under its identifier again.
func (s *Store) drop(cl *mqtt.Client, pk packets.Packet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := cl.State.Inflight.Get(pk.PacketID); taken {
		return
	}
	s.Hook.OnQosComplete(cl, pk)
}

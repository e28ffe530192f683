package mochifix

// # Pacing to a client's receive maximum deadlocks
//
// What is wrong: after every packet a client sends, mochi looks for a
// queued QoS 1 or 2 message to send (processPacket, through
// Inflight.NextImmediate), which takes a read lock on the client's
// in-flight store and, inside it, the same read lock again (GetAll). A
// publisher that adds a message for that client between the two waits for
// the write lock, the second read lock waits behind it, and the broker
// deadlocks under steady QoS 1 or 2 traffic.
//
// Upstream: no issue or pull request found. The closest is
// mochi-mqtt/server#340 ("consume very slow when Inflights to many"), about
// the same send quota.
//
// Repair: NoSendQuota sets every client's send quota to zero as its
// session starts, which turns that look-up off: mochi sends messages as
// they come, and the client's own flow control applies.

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// NoSendQuota is a hook that turns off mochi's pacing of QoS 1 and 2
// messages to a client's receive maximum.
type NoSendQuota struct{ mqtt.HookBase }

// ID names the hook.
func (h *NoSendQuota) ID() string { return "mochifix-no-send-quota" }

// Provides says which events the hook handles.
func (h *NoSendQuota) Provides(b byte) bool { return b == mqtt.OnSessionEstablished }

// OnSessionEstablished runs after mochi set the quota and before it reads
// the client's first packet.
func (h *NoSendQuota) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	cl.State.Inflight.ResetSendQuota(0)
}

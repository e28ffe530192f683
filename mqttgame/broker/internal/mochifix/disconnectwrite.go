package mochifix

// # A DISCONNECT written while messages wait is never sent
//
// What is wrong: while messages wait in a client's outbound queue, mochi
// gathers what it writes to the client in a buffer, and writes the buffer
// only when the queue is empty (Client.WritePacket). A DISCONNECT written
// while messages wait (by DisconnectClient, for a session takeover, or by
// a hook) joins the buffer; the connection is closed right after, and the
// buffer is never written. The client sees its connection end with no
// reason: told nothing, a game takes a session takeover for a network
// failure, reconnects, and takes the session back, so two windows with
// one client ID push each other off.
//
// Upstream: no issue or pull request found. The closest is
// mochi-mqtt/server#322 ("Potential performance decrease with bufio on
// write"), which discussed when that buffer is written.
//
// Repair: WriteDisconnect writes the DISCONNECT to the connection itself,
// encoded by mochi, under the client's lock (so between whole packets),
// ahead of what the buffer holds: the closing connection would lose that
// anyway.

import (
	"bytes"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// WriteDisconnect sends an MQTT v5 client a DISCONNECT with code, at
// once, for a connection that is closed right after: it waits at most
// drainTimeout for a client that does not read. It sends nothing to
// earlier protocol versions, which have no DISCONNECT from the server.
func WriteDisconnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion < 5 || cl.Net.Conn == nil {
		return
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Disconnect},
		ProtocolVersion: cl.Properties.ProtocolVersion,
		ReasonCode:      code.Code,
	}
	pk.Mods.MaxSize = cl.Properties.Props.MaximumPacketSize
	if cl.Properties.Props.RequestProblemInfoFlag && cl.Properties.Props.RequestProblemInfo == 0 {
		pk.Mods.DisallowProblemInfo = true
	} else if code.Code >= packets.ErrUnspecifiedError.Code {
		pk.Properties.ReasonString = code.Reason
	}
	var buf bytes.Buffer
	if err := pk.DisconnectEncode(&buf); err != nil {
		return
	}
	cl.Lock()
	defer cl.Unlock()
	_ = cl.Net.Conn.SetWriteDeadline(time.Now().Add(drainTimeout))
	_, _ = buf.WriteTo(cl.Net.Conn)
}

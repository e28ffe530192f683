package mosquitto

import "strconv"

// This file fences a defect of mosquitto 2.0 (seen in Debian 12's 2.0.11;
// the code is unchanged up to the 2.0 branch's head): delete it, and the
// line config adds with it, once the mosquitto the tests run has it fixed
// (TestRestoreKeepsPUBRELState then fails and says so).
//
// When mosquitto loads its persistence file at start, it puts at most
// max_inflight_messages (20 by default) of a client's QoS 1 and 2 messages
// back in flight and the others in its queue (persist__client_msg_restore
// in src/persist_read.c). When the client reconnects, every queued QoS 2
// message is made a PUBLISH to send again (db__message_reconnect_reset_outgoing
// in src/database.c), even one that was waiting for PUBCOMP: one the client
// had received, acknowledged with PUBREC, and completed when the PUBREL
// came. The client, which has finished that exchange and freed the packet
// identifier, takes the PUBLISH for a new message and delivers it again: a
// QoS 2 duplicate. It takes a restart with more than 20 messages in flight
// to one client, which a subscriber with a receive maximum of 128 (as
// mqttgame announces) reaches whenever it falls behind. No mosquitto issue
// names it yet; eclipse-mosquitto/mosquitto#3275 reports the same block of
// 20 PUBLISH (DUP) resends on a bridge.
//
// With max_inflight_messages large enough, every restored message fits in
// flight and keeps its state: PUBREL is sent again, as MQTT requires.
// mqttgame's receive maximum, 128, is not enough: TestFaultsLoseNothingMosquitto
// (mqttgame/fault_test.go) still met QoS 2 duplicates after restarts in 7
// of 42 runs beside two CPU burners with 128, and none in 46 with 1024. A
// client's receive maximum still bounds what mosquitto sends it.

// restoreInflight is max_inflight_messages for a broker that keeps its
// state.
const restoreInflight = 1024

// restoreDefectConfig returns the configuration lines that keep a
// restarted broker from sending completed QoS 2 messages again.
func restoreDefectConfig(opts *Options) []string {
	if !opts.Persist {
		return nil
	}
	return []string{"max_inflight_messages " + strconv.Itoa(restoreInflight)}
}

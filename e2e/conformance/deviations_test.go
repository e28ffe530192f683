package conformance

import "github.com/mqttgame/mqttgame/internal/casematrix"

// deviations lists what a broker lacks or does otherwise than its Paho
// case expects, as found by running the suite. Each case that has one
// calls env.Deviates where the behaviour splits and checks what the
// broker does instead. The matrix in README.md numbers them in this
// order.
var deviations = []casematrix.Deviation{
	{Case: "zero_length_clientid", Target: "mochi", Why: "accepts an empty client identifier with Clean Start 0 and assigns one, as MQTT v5 allows (the Paho case expects MQTT 3.1.1's refusal); the case checks that a new session under an assigned identifier results"},
	{Case: "zero_length_clientid", Target: "mosquitto", Why: "accepts an empty client identifier with Clean Start 0 and assigns one, as MQTT v5 allows (the Paho case expects MQTT 3.1.1's refusal); the case checks that a new session under an assigned identifier results"},
	{Case: "offline_message_queueing", Target: "mochi", Why: "sends a resumed session's queued messages ordered only by the second they arrived in; the case checks the set, not the order"},
	{Case: "keepalive", Target: "mochi", Why: "drops a client after keepalive + keepalive/2 in whole seconds, so after 1 s for a 1 s keepalive; the case uses 2 s with mochi, 1 s with mosquitto"},
	{Case: "redelivery_on_reconnect", Target: "mochi", Why: "sends a resumed session's unacknowledged messages ordered only by the second they arrived in; the case checks the set of the resent ones. (mochi also refuses a SUBSCRIBE whose packet identifier one of its own messages in flight has, 0x91, which this case meets; the client subscribes again)"},
	{Case: "subscribe_failure", Target: "mosquitto", Why: "the acl_file never refuses a SUBSCRIBE: it applies to the messages; the case checks that the denied topic's messages never arrive"},
	{Case: "publication_expiry", Target: "mochi", Why: "sends a resumed session's queued messages ordered only by the second they arrived in, and removes expired ones in a sweep once a second over whole-second times, so it may still send one up to 2 s past its expiry; the case checks the set, not the order, after 3.5 s away for a 1 s expiry"},
	{Case: "subscribe_identifiers", Target: "mochi", Why: "sends one message carrying both matching subscription identifiers, as MQTT v5 allows; paho.golang keeps only the last identifier of a PUBLISH, so the client's Message.SubscriptionID holds one of them"},
	{Case: "server_topic_alias", Target: "mosquitto", Why: "never uses topic aliases in messages to clients (2.0 supports them only from clients), as MQTT v5 allows; the case checks that messages arrive by name"},
	{Case: "maximum_packet_size", Target: "mochi", Why: "does not announce its maximum packet size in CONNACK; the embedded broker adds it with a hook, as it does the topic alias maximum"},
	{Case: "server_keep_alive", Target: "mochi", Why: "sets a Server Keep Alive only when a hook asks (OnConnect); the case adds one that sets 2 s"},
	{Case: "server_keep_alive", Target: "mosquitto", Why: "max_keepalive cannot go below 10 s, so its Server Keep Alive is 10 s and the case waits up to 15 s for the ping"},
	{Case: "flow_control", Target: "mosquitto", Why: "answers a QoS 2 publish over its Receive Maximum with PUBREC 0x97 (quota exceeded) and keeps the connection, where MQTT v5 says DISCONNECT 0x93; the control checks for the PUBREC"},
	{Case: "will_delay", Target: "mochi", Why: "with Session Expiry 0 waits out the whole will delay, where MQTT v5 ends the session, and so the wait, with the connection; the case expects the will after the delay"},
	{Case: "will_delay", Target: "mosquitto", Why: "with Session Expiry 0 waits out the whole will delay, where MQTT v5 ends the session, and so the wait, with the connection; the case expects the will after the delay"},
}

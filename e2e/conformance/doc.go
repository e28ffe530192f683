// Package conformance holds no code: its tests port the MQTT v5 client
// interoperability cases of the Eclipse Paho test suite
// (interoperability/client_test5.py) to mqttgame's client, and run each
// against real brokers, over WebSocket and TCP (in the e2e folder):
//
//	go test ./conformance/ -run 'TestConformance/mosquitto/ws/will_message'
//
// The brokers are the embedded one (mochi-mqtt, package broker) and the
// system's mosquitto 2.x, started by the run on free loopback ports. What
// a broker legitimately lacks or does differently is declared in one
// table (deviations_test.go) and checked as such, never skipped; the run
// prints the deviations it met, and with MQTTGAME_ARTIFACTS set to a
// folder it writes there the compatibility matrix that README.md keeps.
package conformance

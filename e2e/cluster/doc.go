// Package cluster holds tests only: the client on brokers of more than
// one node, with no change to its code. Two test beds run on loopback,
// each started once for the package: a two-node ejabberd cluster
// (internal/ejabberd) and two mosquittos joined by a bridge
// (internal/mosquitto). In each case a client on node A and
// another on node B talk over TCP or WebSocket: delivery at each QoS,
// wildcards, wills, a session resumed and a session taken over from the
// other node, and failover when node A dies.
//
// What a bed cannot do is a deviation (deviations_test.go): the case
// checks what the bed does instead, and the run writes the table to
// $MQTTGAME_ARTIFACTS/cluster-deviations.txt. README.md keeps the same
// table, checked by TestClusterTableInREADME.
package cluster

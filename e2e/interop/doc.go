// Package interop holds no code: its tests put mqttgame's client in a
// room with other MQTT clients, on the embedded broker and on the
// system's mosquitto, over WebSocket and TCP:
//
//   - MQTT.js, the client of GDevelop's MQTT extension, run by Node
//     (testdata/mqttjs-peer.mjs, installed with `npm ci` from the
//     repository's package-lock.json);
//   - mosquitto_pub and mosquitto_sub, the command-line clients.
//
// Payloads must cross byte for byte both ways, retained messages and
// their clearing must be seen alike, a peer that dies must have its will
// published, and the client's presence records must be readable by the
// others.
package interop

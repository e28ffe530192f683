// An MQTT.js client driven by a Go test: one JSON command per line on
// stdin, one JSON event per line on stdout. Payloads and correlation data
// travel in base64, so binary survives byte for byte.
//
// Commands:
//   {"op":"connect","url":...,"clientId":...,"will":{"topic","payload","qos","retain"}}
//   {"op":"subscribe","id":n,"filter":...,"qos":n}
//   {"op":"publish","id":n,"topic":...,"payload":...,"qos":n,"retain":bool}
//   {"op":"end"}: a graceful disconnect, then exit
// Events:
//   {"ev":"connected"}, {"ev":"subscribed","id":n,"granted":[...]},
//   {"ev":"published","id":n}, {"ev":"message",...}, {"ev":"error","message":...}
import readline from "node:readline";
import mqtt from "mqtt";

let client = null;

function emit(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

function fail(err) {
  emit({ ev: "error", message: String(err && err.message ? err.message : err) });
}

const handlers = {
  connect(cmd) {
    const opts = {
      protocolVersion: 5,
      clientId: cmd.clientId,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10000,
    };
    if (cmd.will) {
      opts.will = {
        topic: cmd.will.topic,
        payload: Buffer.from(cmd.will.payload || "", "base64"),
        qos: cmd.will.qos,
        retain: cmd.will.retain,
      };
    }
    client = mqtt.connect(cmd.url, opts);
    client.on("connect", () => emit({ ev: "connected" }));
    client.on("error", fail);
    client.on("message", (topic, payload, packet) => {
      const p = packet.properties || {};
      emit({
        ev: "message",
        topic,
        payload: payload.toString("base64"),
        qos: packet.qos,
        retain: packet.retain,
        contentType: p.contentType || "",
        userProperties: p.userProperties || {},
      });
    });
  },
  subscribe(cmd) {
    client.subscribe(cmd.filter, { qos: cmd.qos }, (err, granted) => {
      if (err) return fail(err);
      emit({ ev: "subscribed", id: cmd.id, granted: granted.map((g) => g.qos) });
    });
  },
  publish(cmd) {
    const payload = Buffer.from(cmd.payload || "", "base64");
    client.publish(cmd.topic, payload, { qos: cmd.qos, retain: cmd.retain }, (err) => {
      if (err) return fail(err);
      emit({ ev: "published", id: cmd.id });
    });
  },
  end() {
    client.end(false, {}, () => process.exit(0));
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
    handlers[cmd.op](cmd);
  } catch (err) {
    fail(err);
  }
});
// The test went away: do not outlive it.
lines.on("close", () => process.exit(0));

// Runs a Go program compiled to WebAssembly as the Go toolchain's
// wasm_exec_node.js does, and counts how often it crosses between Go and
// JavaScript: each of Go's imports (syscall/js and the runtime's), each
// call from JavaScript into Go (a wake-up of the Go scheduler), and the
// WebSocket messages sent. The counts are written, as JSON, to the file
// named by MQTTGAME_CROSSINGS when the program exits.
//
//   node [--experimental-websocket] wasm-crossings.js GOROOT/lib/wasm/wasm_exec.js prog.wasm [args]
"use strict";

globalThis.require = require;
globalThis.fs = require("fs");
globalThis.path = require("path");
globalThis.TextEncoder = require("util").TextEncoder;
globalThis.TextDecoder = require("util").TextDecoder;
globalThis.performance ??= require("performance");
globalThis.crypto ??= require("crypto");
require(process.argv[2]);

const counts = {};
const count = (k) => { counts[k] = (counts[k] || 0) + 1; };
const go = new Go();
for (const [name, f] of Object.entries(go.importObject.gojs)) {
  go.importObject.gojs[name] = function (...a) { count(name); return f.apply(this, a); };
}
const resume = go._resume.bind(go);
go._resume = () => { count("resume"); return resume(); };
if (typeof WebSocket === "function") {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (d) { count("websocket.send"); return send.call(this, d); };
}
go.argv = process.argv.slice(3);
go.env = Object.assign({ TMPDIR: require("os").tmpdir() }, process.env);
go.exit = (code) => {
  fs.writeFileSync(process.env.MQTTGAME_CROSSINGS, JSON.stringify(counts));
  process.exit(code);
};
WebAssembly.instantiate(fs.readFileSync(process.argv[3]), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((err) => { console.error(err); process.exit(1); });

// MQTT.js's figures beside mqttgame's: the same throughput and round-trip
// benchmarks as mqttgame/bench_e2e_test.go, against a broker the benchmark
// report starts, printed in the standard benchmark format so that the
// report (and benchstat) read them like Go's.
//
//   node [--experimental-websocket] mqttjs-bench.mjs -url ws://… -transport global|ws
//        [-benchtime 1s|100x] [-cpuprofile-only]
//
// -transport global: Node's own WebSocket (the browser's API, which
// MQTT.js uses with forceNativeWebSocket, as it does in a browser);
// ws: the `ws` package, MQTT.js's default in Node.
//
// Each benchmark reports ns/op and msgs/s or p50-ns and p99-ns as Go's
// do, and cpu-ns/msg: the process's CPU time (user and system, from
// process.cpuUsage) over the timed part, per message. Both clients run in
// this process, as both of the Go benchmarks' do; the broker does not.
import mqtt from "mqtt";
import mqttPacket from "mqtt-packet";

const args = { url: "", transport: "global", benchtime: "1s", bench: "" };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i].replace(/^-+/, "");
  if (!(a in args)) {
    console.error(`unknown flag -${a}`);
    process.exit(2);
  }
  args[a] = process.argv[++i];
}
if (!args.url) {
  console.error("-url is needed");
  process.exit(2);
}
if (args.transport === "global" && typeof WebSocket !== "function") {
  console.error("this Node has no global WebSocket: run it with --experimental-websocket");
  process.exit(2);
}

// The same as bench_e2e_test.go's.
const payloadSize = 64;
const window = 512;
const waitMs = 60000;

const name = (prefix) => prefix + Math.random().toString(16).slice(2, 14);

function connect() {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(args.url, {
      protocolVersion: 5,
      clientId: name("mqttjs-"),
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10000,
      keepalive: 30,
      forceNativeWebSocket: args.transport === "global",
    });
    c.once("connect", () => resolve(c));
    c.once("error", reject);
  });
}

function subscribe(c, topic, qos) {
  return new Promise((resolve, reject) =>
    c.subscribe(topic, { qos }, (err) => (err ? reject(err) : resolve())),
  );
}

function end(...clients) {
  return Promise.all(clients.map((c) => new Promise((r) => c.end(false, {}, r))));
}

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

// iterations returns the run sizes to try, as go test does: the next
// from how long the last took, until one lasts -benchtime.
async function calibrate(run) {
  const fixed = /^(\d+)x$/.exec(args.benchtime);
  if (fixed) return run(Number(fixed[1]));
  const target = parseDuration(args.benchtime);
  let n = 1;
  for (;;) {
    const r = await run(n);
    if (r.ns >= target || n >= 1e7) return r;
    const per = Math.max(r.ns / n, 1);
    n = Math.min(Math.max(Math.ceil((1.2 * target) / per), n + 1), 100 * n, 1e7);
  }
}

function parseDuration(s) {
  const m = /^([\d.]+)(ns|us|µs|ms|s|m)$/.exec(s);
  if (!m) throw new Error(`bad -benchtime ${s}`);
  const unit = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9 }[m[2]];
  return Number(m[1]) * unit;
}

function print(bench, r, metrics) {
  let line = `${bench.padEnd(40)}\t${r.n}\t${(r.ns / r.n).toFixed(0)} ns/op`;
  for (const [unit, v] of metrics) line += `\t${Number(v.toPrecision(6))} ${unit}`;
  console.log(line);
}

// throughput publishes n messages from one client to another, at most
// `window` ahead of the receiver: QoS 0 through publish, which writes at
// once; QoS 1 and 2 through publish too, which keeps each in flight until
// acknowledged (MQTT.js has no queue of its own apart from that).
async function throughput(qos) {
  const topic = name("bench/");
  const sub = await connect();
  const pub = await connect();
  await subscribe(sub, topic, qos);
  const payload = Buffer.alloc(payloadSize);
  let onMessage = () => {};
  sub.on("message", () => onMessage());
  const run = (n) =>
    new Promise((resolve, reject) => {
      let sent = 0;
      let got = 0;
      const timer = setTimeout(() => reject(new Error(`${got} of ${n} messages arrived (sent ${sent})`)), waitMs);
      const pump = () => {
        while (sent < n && sent - got < window) {
          pub.publish(topic, payload, { qos });
          sent++;
        }
      };
      const t0 = process.hrtime.bigint();
      const c0 = cpuNs();
      onMessage = () => {
        got++;
        if (got === n) {
          const ns = Number(process.hrtime.bigint() - t0);
          clearTimeout(timer);
          resolve({ n, ns, cpu: cpuNs() - c0 });
          return;
        }
        pump();
      };
      pump();
    });
  const r = await calibrate(run);
  await end(pub, sub);
  print(`BenchmarkThroughput/qos${qos}/mqttjs-${args.transport}`, r, [
    ["msgs/s", (r.n * 1e9) / r.ns],
    ["cpu-ns/msg", r.cpu / r.n],
  ]);
}

// roundTrip sends one message at a time to the client's own topic and
// times each from publish to its message event.
async function roundTrip() {
  const topic = name("rt/");
  const c = await connect();
  await subscribe(c, topic, 0);
  const payload = Buffer.alloc(payloadSize);
  let onMessage = () => {};
  c.on("message", () => onMessage());
  const r = await calibrate(
    roundTrips(
      () =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error("the message did not come back")), waitMs);
          onMessage = () => {
            clearTimeout(timer);
            resolve();
          };
          c.publish(topic, payload, { qos: 0 });
        }),
    ),
  );
  await end(c);
  printRoundTrips(`BenchmarkRoundTrip/mqttjs-${args.transport}`, r);
}

// roundTrips returns a run of n round trips, each a call of one, which
// resolves when the message is back, timed one by one.
const roundTrips = (one) => async (n) => {
  const times = new Float64Array(n);
  const c0 = cpuNs();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const s = process.hrtime.bigint();
    await one();
    times[i] = Number(process.hrtime.bigint() - s);
  }
  return { n, ns: Number(process.hrtime.bigint() - t0), cpu: cpuNs() - c0, times };
};

// printRoundTrips prints a run of round trips: its median and 99th
// percentile, and its CPU time per round trip.
function printRoundTrips(bench, r) {
  r.times.sort();
  print(bench, r, [
    ["p50-ns", r.times[Math.floor(r.n / 2)]],
    ["p99-ns", r.times[Math.min(r.n - 1, Math.floor((r.n * 99) / 100))]],
    ["cpu-ns/msg", r.cpu / r.n],
  ]);
}

// roundTripFloor is what lies under MQTT.js's round trip: the same
// message, encoded once beforehand by MQTT.js's own codec (mqtt-packet),
// written on a WebSocket of the same kind and timed until the broker's
// copy arrives, with no MQTT client (the session and the subscription
// are set up the same way). The WebAssembly client's Go floor
// (mqttgame/bench_e2e_test.go's roundTripFloor) is the same exchange.
async function roundTripFloor() {
  if (args.transport !== "global") return;
  const topic = name("rt/");
  const v5 = { protocolVersion: 5 };
  const connect = mqttPacket.generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, clientId: name("floor-"), keepalive: 0 }, v5);
  const subscribe = mqttPacket.generate({ cmd: "subscribe", messageId: 1, subscriptions: [{ topic, qos: 0 }] }, v5);
  const publish = mqttPacket.generate({ cmd: "publish", topic, payload: Buffer.alloc(payloadSize), qos: 0, retain: false, dup: false }, v5);
  const ws = new WebSocket(args.url, "mqtt");
  ws.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot open a WebSocket to ${args.url}`));
  });
  // exchange writes p and resolves when a packet of type want arrives
  // (the broker sends each packet in a WebSocket message of its own).
  let arrived = () => {};
  ws.onmessage = (e) => arrived(new Uint8Array(e.data)[0] >> 4);
  const exchange = (p, want) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the broker did not answer")), waitMs);
      arrived = (type) => {
        clearTimeout(timer);
        if (type !== want) reject(new Error(`the broker sent a packet of type ${type}, not ${want}`));
        else resolve();
      };
      ws.send(p);
    });
  await exchange(connect, 2);
  await exchange(subscribe, 9);
  const r = await calibrate(roundTrips(() => exchange(publish, 3)));
  ws.close();
  printRoundTrips(`BenchmarkRoundTrip/floor-${args.transport}`, r);
}

const filter = args.bench ? new RegExp(args.bench) : null;
const want = (b) => !filter || filter.test(b);
try {
  if (want("RoundTrip")) await roundTrip();
  if (want("RoundTrip/floor")) await roundTripFloor();
  for (const qos of [0, 1, 2]) {
    if (want(`Throughput/qos${qos}`)) await throughput(qos);
  }
  console.log("PASS");
} catch (err) {
  console.error(String(err && err.stack ? err.stack : err));
  console.log("FAIL");
  process.exit(1);
}

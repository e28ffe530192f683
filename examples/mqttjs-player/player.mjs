// A Star Catch player in MQTT.js (what GDevelop's MQTT extension uses),
// written from docs/protocol.md alone: it claims its name from the host,
// joins a room, shows who is online, the chat and the board, and can
// chat, move its pointer and submit a score.
//
//   node player.mjs --site http://127.0.0.1:8080/ --room lobby --name js
//
// It reads commands on standard input, one per line:
//   say TEXT        a chat line
//   cursor X Y      the pointer
//   score N         a score (published if it beats the player's best)
//   quit            leave on purpose (the others see the player go)
// and writes what happens on standard output, one JSON object per line:
//   {"ev":"connected"}                   {"ev":"online","id":..,"name":..}
//   {"ev":"offline","id":..,"name":..}   {"ev":"chat","from":..,"text":..}
//   {"ev":"board","complete":bool,"top":[{"name":..,"score":..},...]}
//   {"ev":"error","message":..}          {"ev":"left"}
import crypto from "node:crypto";
import readline from "node:readline";
import { parseArgs } from "node:util";
import mqtt from "mqtt";

const { values: args } = parseArgs({
  options: {
    site: { type: "string", default: "http://127.0.0.1:8080/" },
    room: { type: "string", default: "lobby" },
    name: { type: "string" },
    key: { type: "string" },
  },
});
if (!args.name) {
  console.error("usage: node player.mjs --site URL --room ROOM --name NAME");
  process.exit(2);
}

const emit = (ev) => process.stdout.write(JSON.stringify(ev) + "\n");

// Escaping a name into one topic level ("Names and topic levels").
function escape(s) {
  if (s === "") return "_";
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9.-]/.test(c)) out += c;
    else out += "_" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function unescape(level) {
  if (level === "_") return "";
  const bytes = [];
  for (let i = 0; i < level.length; i++) {
    if (level[i] === "_" && /^[0-9A-F]{2}$/.test(level.slice(i + 1, i + 3))) {
      bytes.push(parseInt(level.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(level.charCodeAt(i));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

const id = escape(args.name);
const root = `mqttgame-demo/${escape(args.room)}`;
const t = {
  presence: `${root}/presence`,
  chat: `${root}/chat`,
  cursor: `${root}/cursor`,
  scores: `${root}/scores`,
};
const color = "#" + crypto.createHash("sha256").update(args.name).digest("hex").slice(0, 6);

// Claiming the name ("Claiming a name").
const key = args.key || crypto.randomBytes(16).toString("hex");
const site = args.site.replace(/\/?$/, "/");
let username = "";
{
  const res = await fetch(`${site}join?player=${encodeURIComponent(id)}&key=${key}`);
  const body = await res.text();
  if (res.status === 200) username = JSON.parse(body).username;
  else if (res.status !== 404) {
    emit({ ev: "error", message: `join: ${res.status} ${body.trim()}` });
    process.exit(1);
  }
}

const offline = JSON.stringify({ name: args.name, color, online: false });
const client = mqtt.connect(site.replace(/^http/, "ws") + "mqtt", {
  protocolVersion: 5,
  clientId: `mqttgame-demo:${escape(args.room)}:${id}`,
  username: username || undefined,
  password: username ? key : undefined,
  clean: true,
  keepalive: 30,
  properties: { sessionExpiryInterval: 10 },
  will: {
    topic: `${t.presence}/${id}`,
    payload: Buffer.from(offline),
    qos: 1,
    retain: true,
    properties: { willDelayInterval: 5, contentType: "application/json" },
  },
});

const since = new Date().toISOString().replace(/\.\d+Z$/, "Z");
const online = new Map(); // ID → name
const best = new Map(); // ID → score
let complete = false;
let leaving = false;
const marker = `${t.scores}/sync/${crypto.randomBytes(8).toString("hex")}`;

function publishPresence() {
  client.publish(`${t.presence}/${id}`, JSON.stringify({ name: args.name, color, since, online: true }), {
    qos: 1,
    retain: true,
    properties: { contentType: "application/json" },
  });
}

function showBoard() {
  const top = [...best.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([pid, score]) => ({ name: unescape(pid), score }));
  emit({ ev: "board", complete, top });
}

client.on("connect", () => {
  emit({ ev: "connected" });
  publishPresence(); // after every connection
  client.subscribe(
    [`${t.presence}/+`, `${t.chat}/+`, `${t.scores}/+`],
    { qos: 1 },
    (err) => {
      if (err) return emit({ ev: "error", message: String(err) });
      client.subscribe(`${t.cursor}/+`, { qos: 0, nl: true });
      if (!complete) {
        client.subscribe(marker, { qos: 1 }, (err) => {
          if (!err) client.publish(marker, "", { qos: 1 });
        });
      }
    },
  );
});

client.on("message", (topic, payload) => {
  const level = topic.slice(topic.lastIndexOf("/") + 1);
  if (topic === marker) {
    complete = true;
    client.unsubscribe(marker);
    return showBoard();
  }
  let rec;
  if (topic.startsWith(`${t.presence}/`)) {
    if (payload.length === 0) {
      if (online.delete(level)) emit({ ev: "offline", id: level, name: unescape(level) });
      return;
    }
    try { rec = JSON.parse(payload); } catch { return; }
    if (typeof rec.online !== "boolean") return;
    if (level === id && !rec.online) {
      if (!leaving) publishPresence(); // an old connection's will
      return;
    }
    if (rec.online && !online.has(level)) {
      online.set(level, unescape(level));
      emit({ ev: "online", id: level, name: unescape(level) });
    } else if (!rec.online && online.delete(level)) {
      emit({ ev: "offline", id: level, name: unescape(level) });
    }
  } else if (topic.startsWith(`${t.chat}/`)) {
    try { rec = JSON.parse(payload); } catch { return; }
    const text = typeof rec.text === "string" ? rec.text.replace(/[\u0000-\u001f\u007f]/g, "").trim() : "";
    if (text) emit({ ev: "chat", from: unescape(level), text });
  } else if (topic.startsWith(`${t.scores}/`)) {
    try { rec = JSON.parse(payload); } catch { return; }
    if (!Number.isInteger(rec.score)) return;
    if (rec.score > (best.get(level) ?? -Infinity)) {
      best.set(level, rec.score);
      showBoard();
    }
  }
});

client.on("error", (err) => emit({ ev: "error", message: err.message }));

const commands = {
  say(text) {
    client.publish(`${t.chat}/${id}`, JSON.stringify({ v: 1, text, color, t: Date.now(), id, name: args.name }), {
      qos: 1,
      properties: { contentType: "application/json" },
    });
  },
  cursor(x, y) {
    client.publish(`${t.cursor}/${id}`, `${parseInt(x, 10)},${parseInt(y, 10)}`, { qos: 0 });
  },
  score(n) {
    const score = parseInt(n, 10);
    if (!complete || score <= (best.get(id) ?? -Infinity)) return; // only a better one
    best.set(id, score);
    client.publish(`${t.scores}/${id}`, JSON.stringify({ name: args.name, score, date: new Date().toISOString() }), {
      qos: 1,
      retain: true,
      properties: { contentType: "application/json" },
    });
    showBoard();
  },
  quit() {
    leaving = true;
    // The offline record first, so the others see us go at once, then
    // Disconnect with Will Message (0x04), as a crash would end.
    client.publish(`${t.presence}/${id}`, offline, { qos: 1, retain: true, properties: { contentType: "application/json" } });
    client.end(false, { reasonCode: 0x04 }, () => {
      emit({ ev: "left" });
      process.exit(0);
    });
  },
};

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const [cmd, ...rest] = line.trim().split(" ");
  if (!commands[cmd]) return emit({ ev: "error", message: `unknown command ${cmd}` });
  if (cmd === "say") commands.say(rest.join(" "));
  else commands[cmd](...rest);
});

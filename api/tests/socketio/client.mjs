// Drives Moim's /socket.io/ the way the couple and club apps do, with the real
// socket.io-client. Run by api/tests/api/socketio.rs, which starts Moim and passes:
// MOIM_BASE, ROOM, KIM_ID, KIM_TOKEN, LEE_TOKEN. Exits non-zero on the first failed check.
import { io } from "socket.io-client";
import { randomUUID } from "node:crypto";
import assert from "node:assert/strict";

const { MOIM_BASE: base, ROOM: room, KIM_ID: kimId, KIM_TOKEN: kimToken, LEE_TOKEN: leeToken } =
  process.env;
const WAIT = 10_000;

// The next `event` on `socket` (with its arguments), or a failure after WAIT ms.
function next(socket, event, accept = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${WAIT} ms`)), WAIT);
    const on = (...args) => {
      if (!accept(...args)) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve(args);
    };
    socket.on(event, on);
  });
}

// Sends a message over HTTP, as another part of an app would.
async function say(token, body) {
  const answer = await fetch(`${base}/api/v1/chat/rooms/${room}/messages`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ client_msg_id: randomUUID(), body }),
  });
  const text = await answer.text();
  assert.equal(answer.status, 201, text);
  return JSON.parse(text);
}

function connect(options) {
  const socket = io(base, { reconnection: false, ...options });
  const ready = next(socket, "ready");
  return { socket, ready };
}

// A bad token is refused with connect_error and a message.
{
  const socket = io(base, { reconnection: false, auth: { token: "forged" } });
  const [error] = await next(socket, "connect_error");
  assert.match(error.message, /token/);
  socket.close();
}

// Kim with a query token carrying "Bearer " (as mobile clients send it), Lee with auth.token.
const kim = connect({ query: { token: `Bearer ${kimToken}` } });
const lee = connect({ auth: { token: leeToken } });
// What a client keeps to resume with: the last rev it saw of the room.
let lastRev = 0;
lee.socket.on("message.sent", (_, place) => (lastRev = Math.max(lastRev, place.rev)));
await kim.ready;
await lee.ready;
for (const { socket } of [kim, lee]) {
  const resumed = await socket.emitWithAck("resume", {});
  assert.deepEqual(resumed, { rooms: {} });
}

// A message sent over HTTP reaches Lee as an event: data first, its place second.
const sent = await say(kimToken, "HTTP로 보냄");
const [data, place] = await next(lee.socket, "message.sent");
assert.equal(data.message_id, sent.message_id);
assert.equal(place.room_id, room);
assert.equal(typeof place.rev, "number");

// Lee sends with an ack: the ack is the message; Kim gets it live.
const acked = await lee.socket.emitWithAck("message.send", {
  room_id: room,
  client_msg_id: randomUUID(),
  body: "소켓으로 보냄",
});
assert.equal(acked.body, "소켓으로 보냄");
const [echo] = await next(kim.socket, "message.sent", (d) => d.message_id === acked.message_id);
assert.equal(echo.seq, acked.seq);
const refused = await lee.socket.emitWithAck("message.send", {
  room_id: room,
  client_msg_id: randomUUID(),
  body: "",
});
assert.equal(refused.error.status, 422);

// Typing between the two.
const typingSeen = next(lee.socket, "typing");
assert.deepEqual(await kim.socket.emitWithAck("typing", { room_id: room, typing: true }), {});
const [typing] = await typingSeen;
assert.deepEqual(typing, { room_id: room, user_id: kimId, typing: true });

// Lee is cut off; three messages go by; Lee comes back and resumes: all three, in order, once.
const seenRev = lastRev;
lee.socket.disconnect();
const missed = [];
for (const body of ["하나", "둘", "셋"]) missed.push((await say(kimToken, body)).message_id);
const back = connect({ auth: { token: leeToken } });
await back.ready;
const replayed = [];
back.socket.on("message.sent", (d, p) => replayed.push([d.message_id, p.rev]));
const resumed = await back.socket.emitWithAck("resume", { rooms: { [room]: seenRev } });
assert.deepEqual(resumed.rooms[room], { recovered: true });
assert.deepEqual(
  replayed.map(([id]) => id),
  missed,
  "the missed messages, in order, before the ack",
);
assert.deepEqual(
  replayed.map(([, rev]) => rev),
  [seenRev + 1, seenRev + 2, seenRev + 3],
);

// Long-polling works too.
const polling = connect({ transports: ["polling"], auth: { token: leeToken } });
await polling.ready;
await polling.socket.emitWithAck("resume", {});
const polled = [];
polling.socket.on("message.sent", (d) => polled.push(d.message_id));
const last = await say(kimToken, "polling");
for (let waited = 0; !polled.includes(last.message_id); waited += 50) {
  assert.ok(waited < WAIT, "the message arrives over long-polling");
  await new Promise((r) => setTimeout(r, 50));
}

for (const s of [kim.socket, back.socket, polling.socket]) s.close();
console.log("socket.io: ok");

import assert from "node:assert/strict";
import { newId, uuidText } from "../src/_id.ts";
import { hex } from "../src/_util.ts";
import { newCallId } from "../src/redis/script.ts";
import { slotId } from "../src/scheduler/_slot_id.ts";

const UUID7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("ids: newId is a UUIDv7 of now, each greater than the one before, 10,000 in a row", () => {
  const before = Date.now();
  const ids = Array.from({ length: 10_000 }, () => newId());
  for (const id of ids) assert.match(id, UUID7);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  const ms = parseInt(ids[0].replace("-", "").slice(0, 12), 16);
  assert.ok(ms >= before && ms <= Date.now() + 1, "its first 48 bits are the time");
});

Deno.test("ids: slotId carries its slot's time, and two ids of one slot differ", () => {
  const slot = Date.UTC(2026, 10, 26, 12, 30);
  const a = slotId(slot);
  assert.match(a, UUID7);
  assert.equal(parseInt(a.replace("-", "").slice(0, 12), 16), slot);
  assert.notEqual(a, slotId(slot));
});

Deno.test("ids: hex and uuidText write every byte as two lowercase digits", () => {
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.equal(hex(bytes), Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
  assert.equal(
    uuidText(Uint8Array.from({ length: 16 }, (_, i) => i * 17)),
    "00112233-4455-6677-8899-aabbccddeeff",
  );
});

Deno.test("ids: newCallId is 16 base64url characters, the whole alphabet in use", () => {
  const seen = new Set<string>();
  const ids = new Set<string>();
  for (let i = 0; i < 2_000; i++) {
    const id = newCallId();
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    ids.add(id);
    for (const char of id) seen.add(char);
  }
  assert.equal(ids.size, 2_000);
  assert.equal(seen.size, 64);
});

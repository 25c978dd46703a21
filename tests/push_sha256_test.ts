import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { Buffer } from "node:buffer";
import { HmacSha256, sha256 } from "../src/push/_sha256.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

Deno.test("sha256: equals node:crypto's for every length across the padding edges (0 to 200 bytes)", () => {
  for (let length = 0; length <= 200; length++) {
    const data = crypto.getRandomValues(new Uint8Array(length));
    assert.equal(hex(sha256(data)), createHash("sha256").update(data).digest("hex"), `${length}`);
  }
});

Deno.test("sha256: the FIPS 180-4 examples", () => {
  const text = (s: string) => new TextEncoder().encode(s);
  assert.equal(
    hex(sha256(text("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    hex(sha256(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  );
});

Deno.test("HmacSha256: equals node:crypto's for keys shorter than, equal to and longer than a block", () => {
  for (const keyLength of [0, 1, 16, 63, 64, 65, 200]) {
    const key = crypto.getRandomValues(new Uint8Array(keyLength));
    const hmac = new HmacSha256(key);
    for (const length of [0, 1, 55, 56, 64, 119, 120, 1000]) {
      const data = crypto.getRandomValues(new Uint8Array(length));
      assert.equal(
        hex(hmac.sign(data)),
        createHmac("sha256", key).update(data).digest("hex"),
        `key ${keyLength}, data ${length}`,
      );
    }
  }
});

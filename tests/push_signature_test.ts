import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { keyId, SIGNATURE_TOLERANCE_MS, signPush, verifyPush } from "../src/push/signature.ts";

const SECRET = "first-secret-0123456789";
const NEXT = "second-secret-9876543210";
const T = 1_700_000_000_000;
const request = { method: "POST", path: "/skiff/messages", body: '{"queue":"q","ids":["a"]}' };

Deno.test("signPush: given a secret, then the header is t, k and v1 over the documented string", async () => {
  const header = await signPush(SECRET, { ...request, now: T });
  // Computed independently, with node:crypto.
  const bodyHash = createHash("sha256").update(request.body).digest("hex");
  const mac = createHmac("sha256", SECRET)
    .update(`${T}\nPOST\n/skiff/messages\n${bodyHash}`)
    .digest("hex");
  const k = createHash("sha256").update(SECRET).digest("hex").slice(0, 8);
  assert.equal(header, `t=${T},k=${k},v1=${mac}`);
  assert.equal(await keyId(SECRET), k);
  // And with WebCrypto, what runtimes without node:crypto (Workers) sign with.
  const enc = new TextEncoder();
  const hex = (b: ArrayBuffer) =>
    Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  const hmac = await crypto.subtle.importKey(
    "raw",
    enc.encode(SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const text = `${T}\nPOST\n/skiff/messages\n${
    hex(await crypto.subtle.digest("SHA-256", enc.encode(request.body)))
  }`;
  assert.equal(hex(await crypto.subtle.sign("HMAC", hmac, enc.encode(text))), mac);
});

Deno.test("verifyPush: given a rotation, then signatures of either key verify", async () => {
  for (const secret of [SECRET, NEXT]) {
    const header = await signPush(secret, { ...request, now: T });
    const result = await verifyPush(header, { ...request, secrets: [SECRET, NEXT], now: T });
    assert(result.ok);
    assert.equal(result.keyId, await keyId(secret));
  }
});

Deno.test("verifyPush: given a bytes body, then it verifies like the same text", async () => {
  const header = await signPush(SECRET, { ...request, now: T });
  const body = new TextEncoder().encode(request.body);
  assert((await verifyPush(header, { ...request, body, secrets: [SECRET], now: T })).ok);
});

Deno.test("verifyPush: given a change to any signed part, then it is a mismatch", async () => {
  const header = await signPush(SECRET, { ...request, now: T });
  const changes = [
    { method: "PUT" },
    { path: "/messages" },
    { body: '{"queue":"q","ids":["b"]}' },
  ];
  for (const change of changes) {
    const result = await verifyPush(header, {
      ...request,
      ...change,
      secrets: [SECRET],
      now: T,
    });
    assert(!result.ok && result.reason === "mismatch", JSON.stringify(change));
  }
  const retimed = header.replace(`t=${T}`, `t=${T + 1}`);
  const result = await verifyPush(retimed, { ...request, secrets: [SECRET], now: T });
  assert(!result.ok && result.reason === "mismatch");
});

Deno.test("verifyPush: given a time outside 5 minutes either way, then it is expired", async () => {
  const header = await signPush(SECRET, { ...request, now: T });
  for (const now of [T + SIGNATURE_TOLERANCE_MS + 1, T - SIGNATURE_TOLERANCE_MS - 1]) {
    const result = await verifyPush(header, { ...request, secrets: [SECRET], now });
    assert(!result.ok && result.reason === "expired");
  }
  const edge = await verifyPush(header, {
    ...request,
    secrets: [SECRET],
    now: T + SIGNATURE_TOLERANCE_MS,
  });
  assert(edge.ok);
});

Deno.test("verifyPush: given missing or malformed headers, then they are refused without quoting them", async () => {
  const good = await signPush(SECRET, { ...request, now: T });
  const cases: [string | null, string][] = [
    [null, "missing"],
    ["", "missing"],
    ["garbage", "malformed"],
    [good.replace(",k=", ",x="), "malformed"],
    [good.replace("v1=", "v1=zz"), "malformed"],
    [`${good},t=${T}`, "malformed"],
    [good.replace(`t=${T}`, "t=-5"), "malformed"],
    [`${good}${"0".repeat(300)}`, "malformed"],
  ];
  for (const [header, reason] of cases) {
    const result = await verifyPush(header, { ...request, secrets: [SECRET], now: T });
    assert(!result.ok && result.reason === reason, String(header));
    if (header) assert(!result.message.includes(header));
  }
});

Deno.test("verifyPush: given a key not configured, then it is an unknown key", async () => {
  const header = await signPush(NEXT, { ...request, now: T });
  const result = await verifyPush(header, { ...request, secrets: [SECRET], now: T });
  assert(!result.ok && result.reason === "unknown-key");
  assert(!result.message.includes(NEXT));
});

Deno.test("signPush: given a short or missing secret, then TypeError without the secret", async () => {
  await assert.rejects(signPush("short", request), {
    name: "TypeError",
    message: "Cannot sign push: a signing key must be a string of at least 16 characters",
  });
  await assert.rejects(
    verifyPush("t=1,k=00000000,v1=00", { ...request, secrets: ["tiny"], now: T }),
    TypeError,
  );
  await assert.rejects(keyId(undefined as unknown as string), TypeError);
});

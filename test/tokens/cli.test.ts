import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTokenCommand } from '../../gateway/tokens/cli.js';
import type { Clock } from '../../gateway/core/clock.js';
import { keyPairFromSeed } from '../../protocols/qr-token/mint.js';

const T = 1_800_000_000;
const clock: Clock = { now: () => T * 1000, monotonic: () => 0 };

async function run(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runTokenCommand(args, { out: (s) => out.push(s), err: (s) => err.push(s) }, { clock, ...(stdin === undefined ? {} : { readStdin: async () => stdin }) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

test('cli: keygen, mint, inspect round trip', async () => {
  const kg = await run(['token', 'keygen', '--json']);
  assert.equal(kg.code, 0);
  const keys = JSON.parse(kg.out) as { privateKey: string; publicKey: string; kid: string };
  assert.match(keys.kid, /^[0-9a-f]{16}$/);
  const human = await run(['keygen']);
  assert.match(human.out, /^privateKey \S{43}\npublicKey  \S{43}\nkid        [0-9a-f]{16}$/);

  const m = await run(['mint', '--key', keys.privateKey, '--room', 'R1', '--amount', '350', '--machine', 'W1', '--program', '2', '--account', 'acc-1', '--ttl', '120', '--cti', '00112233445566778899']);
  assert.equal(m.code, 0, m.err);
  const token = m.out;
  assert.match(token, /^LW1:[0-9A-Z $%*+\-./:]+$/);

  const ok = await run(['inspect', token, '--room', 'R1', '--key', keys.publicKey, '--issuer', 'laundry-cloud', '--machine', 'W1', '--price', '300']);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /verdict: VALID/);
  assert.match(ok.out, /acct +"acc-1"/);

  const js = await run(['inspect', token, '--room', 'R1', '--key', keys.publicKey, '--json', '--now', String(T + 120)]);
  assert.equal(js.code, 1);
  const report = JSON.parse(js.out) as { verdict: { ok: boolean; reason: string }; claims: Record<string, unknown> };
  assert.equal(report.verdict.reason, 'expired');
  assert.equal(report.claims['cti'], "h'00112233445566778899'");

  const used = await run(['inspect', token, '--room', 'R1', '--key', keys.publicKey, '--used', '00112233445566778899']);
  assert.match(used.out, /replayed/);
  const room = await run(['inspect', token, '--room', 'R2', '--key', keys.publicKey]);
  assert.match(room.out, /REJECTED: wrong_room/);

  const unverified = await run(['inspect', '-'], `${token}\n`);
  assert.equal(unverified.code, 0);
  assert.match(unverified.out, /UNVERIFIED/);
  assert.match(unverified.out, /NOT verified/);

  const untagged = await run(['mint', '--key', keys.privateKey, '--room', 'R1', '--amount', '1', '--untagged']);
  const u = await run(['inspect', untagged.out, '--room', 'R1', '--key', keys.publicKey, '--issuer', 'laundry-cloud']);
  assert.match(u.out, /untagged/);
  assert.equal(u.code, 0);
});

test('cli: usage errors exit 2, bad tokens exit 1', async () => {
  assert.equal((await run([])).code, 2);
  assert.equal((await run(['frobnicate'])).code, 2);
  assert.equal((await run(['mint', '--room', 'R'])).code, 2);
  assert.equal((await run(['mint', '--key', 'abc', '--room', 'R', '--amount', '1'])).code, 2);
  const kg = JSON.parse((await run(['keygen', '--json'])).out) as { privateKey: string };
  assert.equal((await run(['mint', '--key', kg.privateKey, '--room', 'R', '--amount', '-1'])).code, 2);
  assert.equal((await run(['mint', '--key', kg.privateKey, '--room', 'R', '--amount', '1', '--bogus'])).code, 2);
  assert.equal((await run(['mint', '--key', kg.privateKey, '--room', 'R', '--amount', '1', '--cti', 'abcd'])).code, 2);
  assert.equal((await run(['inspect'])).code, 2);
  assert.equal((await run(['inspect', 'LW1:AB', 'C'])).code, 2);
  const bad = await run(['inspect', 'LW1:not base45!']);
  assert.equal(bad.code, 1);
  assert.match(bad.out, /FAIL base45/);
  assert.equal((await run(['help'])).code, 0);
});

test('inspect without keys still reports a wrong alg as a failure', async () => {
  const { encodeCbor } = await import('../../protocols/qr-token/cbor.js');
  type V = import('../../protocols/qr-token/cbor.js').CborValue;
  const { signPayload, generateKeyPair } = await import('../../protocols/qr-token/mint.js');
  const { encodeClaims } = await import('../../protocols/qr-token/claims.js');
  const { inspectToken } = await import('../../protocols/qr-token/inspect.js');
  const k = generateKeyPair();
  const tok = signPayload(encodeClaims({ iss: 'c', aud: 'r', iat: T, exp: T + 1, cti: new Uint8Array(8), amt: 1 }), k.privateKey, { protectedHeader: encodeCbor(new Map<V, V>([[1, -7], [4, new Uint8Array(8)]])) });
  const r = inspectToken(tok);
  const alg = r.steps.find((s) => s.check === 'alg');
  assert.equal(alg?.status, 'fail');
});

test('cli: keys that start with a dash are taken as values, as keygen prints them', async () => {
  // One key in 64 starts with "-"; node:util's parseArgs alone refuses `--key -Abc…` as ambiguous.
  let keys: { privateKey: string; publicKey: string } | undefined;
  for (let i = 0; i < 20_000 && keys === undefined; i++) {
    const seed = new Uint8Array(32).fill(i & 0xff);
    seed[0] = 0xf8; // the first six bits 111110 are "-" in base64url
    seed[1] = i >> 8;
    const kp = keyPairFromSeed(seed);
    const privateKey = Buffer.from(kp.privateKey).toString('base64url');
    const publicKey = Buffer.from(kp.publicKey).toString('base64url');
    if (privateKey.startsWith('-') && publicKey.startsWith('-')) keys = { privateKey, publicKey };
  }
  assert.ok(keys, 'no key pair with both keys starting with a dash');
  const m = await run(['mint', '--key', keys.privateKey, '--room', 'R1', '--amount', '100']);
  assert.equal(m.code, 0, m.err);
  const ok = await run(['inspect', m.out, '--room', 'R1', '--key', keys.publicKey, '--issuer', 'laundry-cloud']);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /verdict: VALID/);
  const joined = await run(['inspect', m.out, `--room=R1`, `--key=${keys.publicKey}`, '--issuer=laundry-cloud']);
  assert.equal(joined.code, 0, joined.out);
  // an option with no value left still is a usage error, not a swallowed positional
  assert.equal((await run(['mint', '--room', 'R1', '--amount', '1', '--key'])).code, 2);
});

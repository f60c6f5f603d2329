import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../gateway/core/log.js';
import { ClockFloor } from '../../gateway/tokens/clock-floor.js';
import { TokenVerifier } from '../../gateway/tokens/token-verifier.js';
import { keyPairFromSeed, mintToken } from '../../protocols/qr-token/mint.js';
import { SEED_1, SEED_2 } from './vector-set.js';

const T = 1_800_000_000;
const k1 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_1, 'hex')));
const k2 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_2, 'hex')));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');

function capture(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } });
  return { logger: createLogger({ destination: stream, level: 'debug' }), text: () => chunks.join('') };
}

test('TokenVerifier: floor time, key replacement, logs without the token', () => {
  const wall = { ms: (T - 10_000) * 1000 }; // system clock far behind
  const floor = new ClockFloor({ clock: { now: () => wall.ms, monotonic: () => 0 }, persistedSec: T, persist: () => {} });
  const log = capture();
  const v = new TokenVerifier({ roomId: 'R', floor, logger: log.logger, config: { keys: [{ publicKey: b64(k1.publicKey), issuer: 'laundry-cloud' }] } });
  const claims = { iss: 'laundry-cloud', aud: 'R', iat: T - 60, exp: T + 60, cti: new Uint8Array(8).fill(9), amt: 500 };
  const tok = mintToken(claims, k1.privateKey);
  const ok = v.verify(tok, { machineId: 'W1', priceCents: 450, isUsed: () => false });
  assert.ok(ok.ok);
  assert.equal(ok.overpaidCents, 50);
  // judged by the floor: a token that expired before the floor but after the system clock
  const stale = mintToken({ ...claims, iat: T - 9000, exp: T - 5000, cti: new Uint8Array(8).fill(8) }, k1.privateKey);
  const r = v.verify(stale, { isUsed: () => false });
  assert.ok(!r.ok && r.reason === 'expired');
  // a bad config block changes nothing; a good one replaces the set (k1 revoked, k2 in)
  assert.equal(v.setConfig({ keys: [{ publicKey: 'nope', issuer: 'x' }] }).ok, false);
  assert.equal(v.verify(tok, { isUsed: () => false }).ok, true);
  assert.equal(v.setConfig({ keys: [{ publicKey: b64(k2.publicKey), issuer: 'laundry-cloud' }], skewSec: 0 }).ok, true);
  const revoked = v.verify(tok, { isUsed: () => false });
  assert.ok(!revoked.ok && revoked.reason === 'unknown_key');
  const st = v.status();
  assert.equal(st.clock.trusted, false);
  assert.deepEqual(st.keys.keys.map((k) => k.kid), [k2.kid]);
  const logs = log.text();
  assert.match(logs, /QR token accepted/);
  assert.match(logs, /"reason":"expired"/);
  assert.ok(!logs.includes(tok.slice(4, 60)), 'the token text is never logged');
  assert.ok(!logs.includes(b64(k2.publicKey)), 'keys are not logged');
  assert.throws(() => new TokenVerifier({ roomId: 'R', floor, logger: log.logger, config: { keys: 1 } }), /invalid qrTokens/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeKeys, keySetStatus, parseTrustedKeys } from '../../gateway/tokens/trusted-keys.js';
import { keyPairFromSeed, mintToken } from '../../protocols/qr-token/mint.js';
import { verifyToken } from '../../protocols/qr-token/verify.js';
import { SEED_1, SEED_2 } from './vector-set.js';

const k1 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_1, 'hex')));
const k2 = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_2, 'hex')));
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
const T = 1_800_000_000;

test('config block: rotation with overlapping windows, ISO or epoch times, kid computed', () => {
  const r = parseTrustedKeys({
    keys: [
      { publicKey: b64(k1.publicKey), issuer: 'laundry-cloud', notAfter: T + 3600, label: 'old' },
      { kid: k2.kid.toUpperCase(), publicKey: b64(k2.publicKey), issuer: 'laundry-cloud', notBefore: new Date((T - 3600) * 1000).toISOString() },
    ],
  });
  assert.ok(r.ok, r.ok ? '' : r.errors.join('\n'));
  assert.equal(r.skewSec, 300);
  assert.deepEqual(r.keys.map((k) => k.kid), [k1.kid, k2.kid]);
  assert.equal(r.keys[1]?.notBefore, T - 3600);
  assert.ok(r.keys[0]?.keyObject);
  assert.equal(activeKeys(r.keys, T).length, 2);
  assert.equal(activeKeys(r.keys, T + 3600).length, 1);
  assert.equal(activeKeys(r.keys, T - 3601).length, 1);
  // the parsed keys drive the verifier directly
  const tok = mintToken({ iss: 'laundry-cloud', aud: 'r', iat: T, exp: T + 60, cti: new Uint8Array(8), amt: 1 }, k2.privateKey);
  assert.equal(verifyToken(tok, { roomId: 'r', nowSec: T, trustedKeys: r.keys, isUsed: () => false }).ok, true);
  const st = keySetStatus(r.keys, T + 3600);
  assert.deepEqual(st.keys.map((k) => k.state), ['expired', 'active']);
  assert.deepEqual(st.warnings, []);
});

test('config block: every problem is reported with its path', () => {
  const r = parseTrustedKeys({
    keys: [
      { publicKey: 'short', issuer: 'x' },
      { kid: '0000000000000000', publicKey: b64(k1.publicKey), issuer: 'x' },
      { publicKey: b64(k2.publicKey), issuer: '', notBefore: T, notAfter: T },
      { publicKey: b64(k1.publicKey), issuer: 'x', extra: 1 },
    ],
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const all = r.errors.join('\n');
  assert.match(all, /qrTokens\.keys\[0\]\.publicKey: publicKey is a raw 32-byte/);
  assert.match(all, /qrTokens\.keys\[1\]\.kid: kid 0000000000000000 does not match/);
  assert.match(all, /qrTokens\.keys\[2\]\.issuer/);
  assert.match(all, /qrTokens\.keys\[3\]/);
  assert.equal(parseTrustedKeys(null).ok, false);
  assert.equal(parseTrustedKeys({ keys: 'x' }).ok, false);
  const dup = parseTrustedKeys({ keys: [{ publicKey: b64(k1.publicKey), issuer: 'a' }, { publicKey: b64(k1.publicKey), issuer: 'a' }] });
  assert.ok(!dup.ok && /twice/.test(dup.errors.join()));
});

test('status warns when no key is valid or the last one ends without a successor', () => {
  const r = parseTrustedKeys({ keys: [{ publicKey: b64(k1.publicKey), issuer: 'c', notAfter: T + 86400 }] });
  assert.ok(r.ok);
  assert.match(keySetStatus(r.keys, T).warnings.join(), /no successor/);
  assert.match(keySetStatus(r.keys, T + 86400).warnings.join(), /every QR vend will be refused/);
  const empty = parseTrustedKeys({ keys: [] });
  assert.ok(empty.ok);
  assert.equal(keySetStatus(empty.keys, T).warnings.length, 1);
});

test('config block: parsing the parsed output again gives the same keys (the config loader embeds the schema)', async () => {
  const { qrTokenConfigSchema } = await import('../../gateway/tokens/trusted-keys.js');
  const input = { keys: [{ kid: k1.kid.toUpperCase(), publicKey: b64(k1.publicKey), issuer: 'c', notBefore: '2027-01-15T00:00:00+01:00', notAfter: T }] };
  const once = qrTokenConfigSchema.parse(input);
  const a = parseTrustedKeys(input);
  const b = parseTrustedKeys(once);
  assert.ok(a.ok && b.ok);
  assert.deepEqual(b.keys.map(({ keyObject: _k, ...rest }) => rest), a.keys.map(({ keyObject: _k, ...rest }) => rest));
  assert.equal(a.keys[0]?.notBefore, Date.parse('2027-01-14T23:00:00Z') / 1000);
});

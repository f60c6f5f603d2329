// Interoperability: tokens built here WITHOUT the project's codec (a minimal CBOR encoder from
// RFC 8949, COSE_Sign1 from RFC 9052, Base45 from RFC 9285, written below from the RFCs, and a
// second one in Python run as a real process) must verify, and the project's tokens must check
// out with the same independent pieces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { verifyToken } from '../../protocols/qr-token/verify.js';
import { mintToken, keyPairFromSeed } from '../../protocols/qr-token/mint.js';

// --- independent CBOR encoder (RFC 8949 section 3), definite lengths, preferred serialization ---
type Item = { int: number } | { bytes: Uint8Array } | { text: string } | { array: Item[] } | { map: [Item, Item][] } | { tag: number; item: Item };

function head(major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n];
  if (n < 0x100) return [(major << 5) | 24, n];
  if (n < 0x10000) return [(major << 5) | 25, n >> 8, n & 0xff];
  if (n < 0x100000000) return [(major << 5) | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const big = BigInt(n);
  return [(major << 5) | 27, ...Array.from({ length: 8 }, (_, i) => Number((big >> BigInt(56 - 8 * i)) & 0xffn))];
}

function enc(x: Item): number[] {
  if ('int' in x) return x.int >= 0 ? head(0, x.int) : head(1, -1 - x.int);
  if ('bytes' in x) return [...head(2, x.bytes.length), ...x.bytes];
  if ('text' in x) {
    const b = Buffer.from(x.text, 'utf8');
    return [...head(3, b.length), ...b];
  }
  if ('array' in x) return [...head(4, x.array.length), ...x.array.flatMap(enc)];
  if ('map' in x) return [...head(5, x.map.length), ...x.map.flatMap(([k, v]) => [...enc(k), ...enc(v)])];
  return [...head(6, x.tag), ...enc(x.item)];
}
const cbor = (x: Item): Uint8Array => Uint8Array.from(enc(x));

// --- independent Base45 (RFC 9285 section 4.2) ---
const B45 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
function b45(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 2) {
    if (i + 1 < b.length) {
      const n = (b[i] ?? 0) * 256 + (b[i + 1] ?? 0);
      s += B45[n % 45] + (B45[Math.floor(n / 45) % 45] ?? '') + (B45[Math.floor(n / 2025)] ?? '');
    } else {
      const n = b[i] ?? 0;
      s += (B45[n % 45] ?? '') + (B45[Math.floor(n / 45)] ?? '');
    }
  }
  return s;
}
function unb45(s: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < s.length; i += 3) {
    const v = [...s.slice(i, i + 3)].map((c) => B45.indexOf(c));
    if (v.length === 3) {
      const n = (v[0] ?? 0) + (v[1] ?? 0) * 45 + (v[2] ?? 0) * 2025;
      out.push(n >> 8, n & 0xff);
    } else out.push((v[0] ?? 0) + (v[1] ?? 0) * 45);
  }
  return Uint8Array.from(out);
}

// --- keys straight from RFC 8032 TEST 1, imported via JWK (not the project's DER prefixes) ---
const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUB = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
const privKey = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: SEED.toString('base64url'), x: PUB.toString('base64url') }, format: 'jwk' });
const pubKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: PUB.toString('base64url') }, format: 'jwk' });
const KID = createHash('sha256').update(PUB).digest().subarray(0, 8);
const NOW = 1_790_000_000;

function independentToken(opts: { tagged: boolean; claimsOrder: 'ours' | 'reversed' }): string {
  // kid before alg, to show header order does not matter
  const protectedBytes = cbor({ map: [[{ int: 4 }, { bytes: KID }], [{ int: 1 }, { int: -8 }]] });
  const entries: [Item, Item][] = [
    [{ text: 'amt' }, { int: 500 }],
    [{ int: 7 }, { bytes: Buffer.from('0123456789abcdef01', 'hex') }],
    [{ text: 'm' }, { text: 'D2' }],
    [{ int: 1 }, { text: 'laundry-cloud' }],
    [{ int: 3 }, { text: 'room-9' }],
    [{ int: 4 }, { int: NOW + 600 }],
    [{ int: 6 }, { int: NOW - 5 }],
    [{ text: 'p' }, { int: 7 }],
    [{ text: 'x-unknown' }, { array: [{ int: 1 }, { text: 'ignored' }] }],
  ];
  const payload = cbor({ map: opts.claimsOrder === 'ours' ? entries : [...entries].reverse() });
  const toBeSigned = cbor({ array: [{ text: 'Signature1' }, { bytes: protectedBytes }, { bytes: new Uint8Array(0) }, { bytes: payload }] });
  const signature = sign(null, toBeSigned, privKey);
  const sign1: Item = { array: [{ bytes: protectedBytes }, { map: [] }, { bytes: payload }, { bytes: signature }] };
  return `LW1:${b45(cbor(opts.tagged ? { tag: 18, item: sign1 } : sign1))}`;
}

test('interop: a token built by an independent COSE_Sign1/CBOR/Base45 encoder verifies', () => {
  for (const tagged of [true, false]) {
    for (const claimsOrder of ['ours', 'reversed'] as const) {
      const tok = independentToken({ tagged, claimsOrder });
      const r = verifyToken(tok, {
        roomId: 'room-9',
        machineId: 'D2',
        priceCents: 450,
        nowSec: NOW,
        trustedKeys: [{ kid: KID.toString('hex'), publicKey: new Uint8Array(PUB), issuer: 'laundry-cloud' }],
        isUsed: () => false,
      });
      assert.ok(r.ok, r.ok ? '' : `${tagged}/${claimsOrder}: ${r.reason}: ${r.detail}`);
      assert.equal(r.program, 7);
      assert.equal(r.overpaidCents, 50);
      assert.equal(r.tokenId, '0123456789abcdef01');
    }
  }
});

test('interop: the project minter output checks out with the independent pieces', () => {
  const kp = keyPairFromSeed(new Uint8Array(SEED));
  assert.deepEqual(Buffer.from(kp.publicKey), PUB);
  assert.equal(kp.kid, KID.toString('hex'));
  const tok = mintToken({ iss: 'laundry-cloud', aud: 'room-9', exp: NOW + 60, iat: NOW, cti: new Uint8Array(8).fill(0xab), amt: 200, m: 'W4' }, kp.privateKey);
  assert.ok(tok.startsWith('LW1:'));
  const bytes = unb45(tok.slice(4));
  assert.equal(bytes[0], 0xd2, 'tag 18');
  assert.equal(bytes[1], 0x84, '4-element array');
  // protected header bstr: h'a2 01 27 04 48 <kid>' = {1: -8, 4: kid}
  const ph = bytes.subarray(3, 3 + (bytes[2] ?? 0) - 0x40);
  assert.deepEqual(Buffer.from(ph), Buffer.from(cbor({ map: [[{ int: 1 }, { int: -8 }], [{ int: 4 }, { bytes: KID }]] })));
  let p = 3 + ph.length;
  assert.equal(bytes[p++], 0xa0, 'empty unprotected map');
  assert.equal(bytes[p++], 0x58, 'payload bstr with 1-byte length');
  const plen = bytes[p++] ?? 0;
  const payload = bytes.subarray(p, p + plen);
  p += plen;
  assert.equal(bytes[p++], 0x58);
  assert.equal(bytes[p++], 64);
  const sig = bytes.subarray(p, p + 64);
  assert.equal(p + 64, bytes.length);
  const tbs = cbor({ array: [{ text: 'Signature1' }, { bytes: ph }, { bytes: new Uint8Array(0) }, { bytes: payload }] });
  assert.ok(verify(null, tbs, pubKey, sig));
  assert.ok(Buffer.from(payload).includes(Buffer.from('room-9')));
});

test('interop: a token minted by a Python process (own CBOR/COSE/Base45, `cryptography` Ed25519) verifies', (t) => {
  const probe = spawnSync('python3', ['-c', 'import cryptography'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3 with the cryptography package is not installed');
    return;
  }
  const script = fileURLToPath(new URL('./py-mint.py', import.meta.url));
  for (const tagged of [true, false]) {
    const claims = { iss: 'laundry-cloud', aud: 'room-py', exp: NOW + 300, iat: NOW, cti: 'a1b2c3d4e5f60718', amt: 1200, m: 'W7', p: 1, acct: 'py-user', tagged };
    const r = spawnSync('python3', [script, SEED.toString('hex'), JSON.stringify(claims)], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const tok = r.stdout.replace(/\n$/, '');
    const v = verifyToken(tok, { roomId: 'room-py', machineId: 'W7', priceCents: 1000, nowSec: NOW + 10, trustedKeys: [{ kid: KID.toString('hex'), publicKey: new Uint8Array(PUB), issuer: 'laundry-cloud' }], isUsed: () => false });
    assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${v.detail}`);
    assert.equal(v.overpaidCents, 200);
    assert.equal(v.claims.acct, 'py-user');
    assert.equal(v.tokenId, 'a1b2c3d4e5f60718');
  }
});

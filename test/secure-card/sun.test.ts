// SUN verification on published vectors (RFC 4493 for CMAC, NXP AN12196, the datasheet's), the
// parsing rules, key versions, and a property: one flipped bit anywhere is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  aesCmac,
  decryptPiccData,
  diversifyCardKey,
  encodeSunUri,
  parseSunUri,
  sdmMac,
  verifySun,
  verifySunUri,
  type SunKeySet,
} from '../../protocols/secure-card/index.js';
import { AN12196, SPEC_KEYS, SPEC_VECTORS, SYSTEM_ID, sunLine } from './vectors.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

test('AES-CMAC: RFC 4493 examples 1 to 4 (empty, one block, 40 bytes, four blocks)', () => {
  const key = hex('2b7e151628aed2a6abf7158809cf4f3c');
  const msg = hex(
    '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
  );
  assert.equal(aesCmac(key, Buffer.alloc(0)).toString('hex'), 'bb1d6929e95937287fa37d129b756746');
  assert.equal(aesCmac(key, msg.subarray(0, 16)).toString('hex'), '070a16b46b4d4144f79bdd9dd04a287c');
  assert.equal(aesCmac(key, msg.subarray(0, 40)).toString('hex'), 'dfa66747de9ae63030ca32611497c827');
  assert.equal(aesCmac(key, msg).toString('hex'), '51f0bebf7e3b9d92fc49741779363cfe');
});

test('AN12196: picc_data decrypts to UID 04DE5F1EACC040 and counter 61; the MAC matches under zero keys', () => {
  const zero = Buffer.alloc(16);
  const picc = decryptPiccData(zero, hex(AN12196.piccData));
  assert.ok(picc);
  assert.equal(picc.uid.toString('hex').toUpperCase(), AN12196.uid);
  assert.equal(picc.counter, AN12196.counter);
  assert.equal(sdmMac(zero, picc.uid, picc.counter).toString('hex').toUpperCase(), AN12196.cmac);
});

test('datasheet vectors: K_card, UID, counter and MAC', () => {
  for (const v of SPEC_VECTORS) {
    assert.equal(diversifyCardKey(SPEC_KEYS.masterKey, hex(v.uid), SYSTEM_ID).toString('hex').toUpperCase(), v.cardKey);
    assert.deepEqual(verifySunUri(sunLine(v), [SPEC_KEYS]), { ok: true, uid: v.uid, counter: v.counter, keyVersion: 1 });
    // The card side produces the same text (the vectors' random bytes are not zero, so compare the MAC only).
    const again = encodeSunUri({ metaKey: SPEC_KEYS.metaKey, masterKey: SPEC_KEYS.masterKey, systemId: SYSTEM_ID, uid: v.uid, counter: v.counter });
    assert.ok(again.endsWith(`&cmac=${v.cmac}`));
  }
});

test('parse: any order, other parameters ignored, lowercase hex read; missing, doubled or mis-sized is bad_format', () => {
  const v = SPEC_VECTORS[0];
  assert.equal(verifySunUri(`https://x/y?a=1&cmac=${v.cmac}&b&picc_data=${v.piccData}#frag`, [SPEC_KEYS]).ok, true);
  assert.equal(verifySunUri(`https://x/y?picc_data=${v.piccData.toLowerCase()}&cmac=${v.cmac.toLowerCase()}`, [SPEC_KEYS]).ok, true);
  const bad = [
    'https://c.example/t',
    `https://x/y?picc_data=${v.piccData}`,
    `https://x/y?cmac=${v.cmac}`,
    `https://x/y?picc_data=${v.piccData}&cmac=${v.cmac}&cmac=${v.cmac}`,
    `https://x/y?picc_data=${v.piccData}0&cmac=${v.cmac}`,
    `https://x/y?picc_data=${v.piccData}&cmac=${v.cmac.slice(1)}`,
    `https://x/y?picc_data=${v.piccData.slice(0, 31)}G&cmac=${v.cmac}`,
    `https://x/y#?picc_data=${v.piccData}&cmac=${v.cmac}`,
  ];
  for (const line of bad) {
    const r = parseSunUri(line);
    assert.equal(r.ok, false, line);
    assert.equal(verifySunUri(line, [SPEC_KEYS]).ok, false);
    if (!r.ok) assert.equal(r.reason, 'bad_format');
  }
});

test('a wrong meta key is unknown_card; the right meta key with a wrong master key or systemId is bad_mac', () => {
  const line = sunLine(SPEC_VECTORS[0]);
  const other = Buffer.from('00112233445566778899AABBCCDDEEFF', 'hex');
  const r1 = verifySunUri(line, [{ ...SPEC_KEYS, metaKey: other }]);
  assert.equal(r1.ok ? 'ok' : r1.reason, 'unknown_card');
  const r2 = verifySunUri(line, [{ ...SPEC_KEYS, masterKey: other }]);
  assert.equal(r2.ok ? 'ok' : r2.reason, 'bad_mac');
  const r3 = verifySunUri(line, [{ ...SPEC_KEYS, systemId: 'LAUNDRY-OP-0002' }]);
  assert.equal(r3.ok ? 'ok' : r3.reason, 'bad_mac');
  const r4 = verifySunUri(line, []);
  assert.equal(r4.ok ? 'ok' : r4.reason, 'unknown_card');
});

test('several key versions live: each card verifies under its own version, the verdict names it', () => {
  const v2: SunKeySet = { version: 2, metaKey: hex('A0A1A2A3A4A5A6A7A8A9AAABACADAEAF'), masterKey: hex('B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF'), systemId: 'LAUNDRY-OP-0001' };
  const newCard = encodeSunUri({ ...v2, uid: '04112233445566', counter: 3 });
  assert.deepEqual(verifySunUri(newCard, [SPEC_KEYS, v2]), { ok: true, uid: '04112233445566', counter: 3, keyVersion: 2 });
  assert.deepEqual(verifySunUri(sunLine(SPEC_VECTORS[1]), [v2, SPEC_KEYS]), { ok: true, uid: '04A2B9C1D25E80', counter: 8, keyVersion: 1 });
  const r = verifySunUri(newCard, [SPEC_KEYS]);
  assert.equal(r.ok, false);
});

test('encode then verify round-trips over UIDs, counters and random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 7, maxLength: 7 }), fc.integer({ min: 0, max: 0xffffff }), fc.uint8Array({ minLength: 5, maxLength: 5 }), (uid, counter, random) => {
      const uidHex = Buffer.from(uid).toString('hex').toUpperCase();
      const line = encodeSunUri({ ...SPEC_KEYS, uid: uidHex, counter, random });
      assert.deepEqual(verifySunUri(line, [SPEC_KEYS]), { ok: true, uid: uidHex, counter, keyVersion: 1 });
    }),
    { numRuns: 300 },
  );
});

test('property: one flipped bit anywhere in picc_data or cmac is refused (unknown_card or bad_mac, never accepted)', () => {
  const all = [...SPEC_VECTORS.map((v) => ({ v, keys: [SPEC_KEYS] }))];
  fc.assert(
    fc.property(fc.constantFrom(...all), fc.integer({ min: 0, max: 16 * 8 + 8 * 8 - 1 }), ({ v, keys }, bit) => {
      const picc = hex(v.piccData);
      const cmac = hex(v.cmac);
      const target = bit < 128 ? picc : cmac;
      const at = bit < 128 ? bit : bit - 128;
      target[at >> 3] = (target[at >> 3] ?? 0) ^ (1 << (at & 7));
      const r = verifySun({ piccData: picc, cmac }, keys);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(r.reason === 'unknown_card' || r.reason === 'bad_mac', r.reason);
    }),
    { numRuns: 2000 },
  );
  // And exhaustively, every one of the 192 bits of the first vector.
  for (let bit = 0; bit < 192; bit++) {
    const picc = hex(SPEC_VECTORS[0].piccData);
    const cmac = hex(SPEC_VECTORS[0].cmac);
    const target = bit < 128 ? picc : cmac;
    const at = bit < 128 ? bit : bit - 128;
    target[at >> 3] = (target[at >> 3] ?? 0) ^ (1 << (at & 7));
    assert.equal(verifySun({ piccData: picc, cmac }, [SPEC_KEYS]).ok, false, `bit ${bit}`);
  }
});

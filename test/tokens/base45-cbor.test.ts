import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Base45Error, base45Decode, base45Encode } from '../../protocols/qr-token/base45.js';
import { decodeCbor, scanCbor } from '../../protocols/qr-token/cbor.js';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

test('base45: the examples of RFC 9285 section 4', () => {
  assert.equal(base45Encode(bytes('AB')), 'BB8');
  assert.equal(base45Encode(bytes('Hello!!')), '%69 VD92EX0');
  assert.equal(base45Encode(bytes('base-45')), 'UJCLQE7W581');
  assert.equal(text(base45Decode('QED8WEX0')), 'ietf!');
  assert.equal(base45Encode(new Uint8Array(0)), '');
  assert.deepEqual(base45Decode(''), new Uint8Array(0));
});

test('base45: strict decoding (alphabet, length mod 3, value ranges)', () => {
  assert.throws(() => base45Decode('GGW!'), Base45Error); // ! not in the alphabet (and length 4)
  assert.throws(() => base45Decode('aBC'), /not in the Base45 alphabet/); // lower case
  assert.throws(() => base45Decode('BB8A'), /1 mod 3/);
  assert.throws(() => base45Decode('A'), /1 mod 3/);
  assert.throws(() => base45Decode(':::'), /above 65535/); // 44 + 44*45 + 44*2025 = 91124
  assert.deepEqual(base45Decode('FGW'), hex('ffff')); // 65535 is the largest good triple
  assert.throws(() => base45Decode('GGW'), /above 65535/); // 65536
  assert.deepEqual(base45Decode('U5'), hex('ff')); // 255 = 30 + 5*45
  assert.throws(() => base45Decode('V5'), /above 255/); // 256
  assert.throws(() => base45Decode('BB\u00e9'), /U\+00E9/);
  assert.throws(() => base45Decode('BB\u{1F600}'), Base45Error);
});

test('base45: encode/decode round trip (property)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => assert.deepEqual(base45Decode(base45Encode(b)), b)), { numRuns: 500 });
});

test('cbor: integer map keys survive and values decode', () => {
  // {1: "a", "amt": 350, 7: h'0102'}
  const r = decodeCbor(hex('a301616163616d7419015e07420102'));
  assert.ok(r.ok);
  assert.ok(r.value instanceof Map);
  assert.equal(r.value.get(1), 'a');
  assert.equal(r.value.get('amt'), 350);
  assert.deepEqual(r.value.get(7), hex('0102'));
});

test('cbor: refuses what a token never holds', () => {
  const refuse = (h: string, why: RegExp): void => {
    const r = decodeCbor(hex(h));
    assert.equal(r.ok, false, h);
    if (!r.ok) assert.match(r.detail, why, h);
  };
  refuse('9f01ff', /indefinite/); // indefinite array
  refuse('5f4101ff', /indefinite/); // indefinite byte string
  refuse('a201020103', /repeat|duplicate/i); // {1:2, 1:3}
  refuse('a2616101616102', /repeat|duplicate/i); // {"a":1, "a":2}
  refuse('1801', /more bytes than necessary|strict/); // 1 encoded in 2 bytes
  refuse('f7', /simple value/); // undefined
  refuse('f820', /simple value/);
  refuse('0102', /trailing/);
  refuse('62c328', /UTF-8/); // invalid UTF-8 text
  refuse('c11a00000000', /tag/i); // tag 1 (epoch time)
  refuse('83010203ff', /trailing|break/);
  refuse('1c', /reserved/);
  refuse('9b0000000100000000', /claims|left/); // array of 2^32 items
  refuse('', /empty/);
  refuse('fb7ff8000000000000', /NaN/); // NaN
});

test('cbor: deep nesting is refused without recursion (no stack overflow)', () => {
  const deep = new Uint8Array(200_000).fill(0x81); // [[[[...
  const r = decodeCbor(deep, { maxBytes: 1_000_000, maxDepth: 16, maxItems: 1_000_000 });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.detail, /nesting deeper than 16/);
  const maps = new Uint8Array(1000).fill(0xa1);
  assert.match(scanCbor(maps) ?? '', /nesting|above the limit/);
  const ok = new Uint8Array([...new Uint8Array(15).fill(0x81), 0x01]);
  assert.ok(decodeCbor(ok).ok);
  const tooDeep = new Uint8Array([...new Uint8Array(17).fill(0x81), 0x01]);
  assert.equal(decodeCbor(tooDeep).ok, false);
});

test('cbor: input size limit', () => {
  const big = new Uint8Array(2000);
  big[0] = 0x59; // bstr with 2-byte length
  big[1] = 0x07;
  big[2] = 0xcd; // 1997 bytes follow
  const r = decodeCbor(big);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.detail, /above the limit/);
});

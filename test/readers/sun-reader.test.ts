// Type S line rules on literal bytes: SUN lines pass as text, UID: lines as strictly as type L,
// anything else is noise with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SUN_READER_MAX_LINE_BYTES, encodeSunReaderLine, encodeSunReaderUidLine, parseSunReaderLine } from '../../protocols/readers/sun-reader.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const LINE = 'https://c.example/t?picc_data=5FEB986817B564116938A91661382957&cmac=037426F11B536BB2';

test('type S: a SUN URI line is passed on as its text, unverified', () => {
  assert.deepEqual(parseSunReaderLine(enc(LINE)), { ok: true, kind: 'sun', text: LINE });
  // Malformed but naming a parameter: the verifier says bad_format (an audited decline), not the framer.
  assert.deepEqual(parseSunReaderLine(enc('x?cmac=12')), { ok: true, kind: 'sun', text: 'x?cmac=12' });
});

test('type S: UID: lines carry 8, 14 or 20 uppercase hex characters, like type L', () => {
  assert.deepEqual(parseSunReaderLine(enc('UID:04A2B9C1D25E80')), { ok: true, kind: 'uid', uid: '04A2B9C1D25E80' });
  assert.deepEqual(parseSunReaderLine(enc('UID:DEADBEEF')), { ok: true, kind: 'uid', uid: 'DEADBEEF' });
  assert.deepEqual(parseSunReaderLine(enc('UID:04a2b9c1d25e80')), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseSunReaderLine(enc('UID:04A2B9C1D25E8')), { ok: false, reason: 'bad-length' });
  assert.deepEqual(parseSunReaderLine(enc('UID:')), { ok: false, reason: 'bad-length' });
  assert.deepEqual(parseSunReaderLine(enc('UID:04A2B9C1D25E80ZZ')), { ok: false, reason: 'bad-char' });
});

test('type S: empty, controls, spaces, non-ASCII, foreign text and overlong lines are noise', () => {
  assert.deepEqual(parseSunReaderLine(new Uint8Array(0)), { ok: false, reason: 'empty' });
  assert.deepEqual(parseSunReaderLine(enc(`${LINE}\n`)), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseSunReaderLine(enc(`${LINE} x`)), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseSunReaderLine(Uint8Array.from([...enc(LINE), 0xc3, 0xa9])), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseSunReaderLine(enc('https://example.com/hello')), { ok: false, reason: 'not-sun' });
  const longest = `${LINE}&pad=${'A'.repeat(SUN_READER_MAX_LINE_BYTES - LINE.length - 5)}`;
  assert.equal(longest.length, SUN_READER_MAX_LINE_BYTES);
  assert.deepEqual(parseSunReaderLine(enc(longest)), { ok: true, kind: 'sun', text: longest });
  assert.deepEqual(parseSunReaderLine(enc(`${longest}A`)), { ok: false, reason: 'oversize' });
});

test('type S: the encoders write what the parser reads, with CR LF', () => {
  assert.equal(Buffer.from(encodeSunReaderLine(LINE)).toString(), `${LINE}\r\n`);
  assert.equal(Buffer.from(encodeSunReaderUidLine('04A2B9C1D25E80')).toString(), 'UID:04A2B9C1D25E80\r\n');
});

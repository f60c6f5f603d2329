// fast-check over the pure framers: whatever bytes the line carries, they never throw, never
// hold more than their cap, and never yield a card unless the bytes held a valid frame.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EM4100_ETX, EM4100_MAX_FRAME_BYTES, EM4100_STX, Em4100Framer, encodeEm4100Frame, parseEm4100Body } from '../../protocols/readers/em4100.js';
import { LINE_READER_UID_LENGTHS, parseLineReaderLine } from '../../protocols/readers/line-reader.js';
import { QR_MAX_TEXT_BYTES, parseQrText } from '../../protocols/readers/qr-scanner.js';
import { SUN_READER_MAX_LINE_BYTES, parseSunReaderLine } from '../../protocols/readers/sun-reader.js';
import { encodeSunUri, verifySunUri } from '../../protocols/secure-card/index.js';
import { SPEC_KEYS } from '../secure-card/vectors.js';
import { CappedDelimiterParser, type DelimitedOutput } from '../../gateway/readers/capped-delimiter.js';

// Bytes skewed towards the ones that matter to the framers, so frames and near-frames occur.
const lineByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x41, 0x30, 0x46, 0x39, 0x02, 0x03));
// size 'max': fast-check otherwise caps an array at about ten elements, whatever maxLength says.
const bytes = (max: number) => fc.array(lineByte, { maxLength: max, size: 'max' }).map((a) => Uint8Array.from(a));
/** Splits data at random points, as reads from a port do. */
const chunked = (max: number) =>
  fc.tuple(bytes(max), fc.array(fc.nat(), { maxLength: 20 })).map(([data, cuts]) => {
    const points = [...new Set(cuts.map((c) => (data.length === 0 ? 0 : c % data.length)))].sort((a, b) => a - b);
    const parts: Uint8Array[] = [];
    let prev = 0;
    for (const p of [...points, data.length]) {
      parts.push(data.subarray(prev, p));
      prev = p;
    }
    return { data, parts };
  });
const hexUid = fc.array(fc.constantFrom(...'0123456789ABCDEF'), { minLength: 10, maxLength: 10 }).map((a) => a.join(''));

/** Every uid a valid STX..ETX frame anywhere in `data` would carry. */
function validEm4100Uids(data: Uint8Array): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 13 < data.length; i++) {
    if (data[i] !== EM4100_STX || data[i + 13] !== EM4100_ETX) continue;
    const r = parseEm4100Body(data.subarray(i + 1, i + 13));
    if (r.ok) out.add(r.uid);
  }
  return out;
}

test('fuzz EM4100 framer: random bytes never throw, never exceed the cap, yield only uids of valid frames', () => {
  fc.assert(
    fc.property(chunked(400), ({ data, parts }) => {
      const f = new Em4100Framer();
      const valid = validEm4100Uids(data);
      for (const part of parts) {
        for (const ev of f.push(part)) {
          if (ev.kind === 'frame') assert.ok(valid.has(ev.uid), `uid ${ev.uid} not in a valid frame`);
          else assert.ok(ev.bytes > 0);
        }
        assert.ok(f.bufferedBytes <= EM4100_MAX_FRAME_BYTES - 2);
      }
    }),
    { numRuns: 500 },
  );
});

test('fuzz EM4100 framer: frames among junk without STX all come out, in order, however the bytes are split', () => {
  const junk = fc.array(fc.integer({ min: 0, max: 255 }).filter((b) => b !== EM4100_STX), { maxLength: 30, size: 'max' });
  fc.assert(
    fc.property(fc.array(fc.tuple(junk, hexUid), { maxLength: 8 }), junk, fc.array(fc.nat(), { maxLength: 10 }), (items, tail, cuts) => {
      const data = Buffer.concat([...items.flatMap(([j, uid]) => [Buffer.from(j), Buffer.from(encodeEm4100Frame(uid))]), Buffer.from(tail)]);
      const f = new Em4100Framer();
      const got: string[] = [];
      let prev = 0;
      for (const p of [...cuts.map((c) => (data.length ? c % data.length : 0)).sort((a, b) => a - b), data.length]) {
        for (const ev of f.push(data.subarray(prev, Math.max(prev, p)))) if (ev.kind === 'frame') got.push(ev.uid);
        prev = Math.max(prev, p);
      }
      assert.deepEqual(got, items.map(([, uid]) => uid));
    }),
    { numRuns: 300 },
  );
});

test('fuzz line and QR validation: random bytes never throw; a pass is exactly what the spec allows', () => {
  fc.assert(
    fc.property(bytes(80), (line) => {
      const r = parseLineReaderLine(line);
      if (r.ok) {
        assert.match(r.uid, /^[0-9A-F]+$/);
        assert.ok(LINE_READER_UID_LENGTHS.includes(r.uid.length));
        assert.equal(r.uid, Buffer.from(line).toString('latin1'));
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(fc.oneof(bytes(64), fc.string({ unit: 'binary', maxLength: 700, size: 'max' }).map((s) => new TextEncoder().encode(s))), (raw) => {
      const r = parseQrText(raw);
      if (r.ok) {
        assert.ok(r.text.length > 0);
        assert.ok(Buffer.byteLength(r.text, 'utf8') <= QR_MAX_TEXT_BYTES);
        assert.doesNotMatch(r.text, /[\u0000-\u001f\u007f-\u009f]/u);
      }
    }),
    { numRuns: 1000 },
  );
});

/** What splitting the whole input at CR LF gives, with frames over the cap dropped. */
function reference(data: Uint8Array, cap: number): (string | { drop: string })[] {
  const segs = Buffer.from(data).toString('latin1').split('\r\n');
  const out: (string | { drop: string })[] = segs.slice(0, -1).map((s) => (s.length > cap ? { drop: 'oversize' } : s));
  const last = segs.at(-1) ?? '';
  if (last.length > cap + 1) out.push({ drop: 'oversize' });
  return out;
}

test('fuzz capped delimiter parser: matches a split-on-CR-LF reference model, memory bounded', async () => {
  const cap = 16;
  await fc.assert(
    fc.asyncProperty(chunked(300), async ({ data, parts }) => {
      const p = new CappedDelimiterParser({ delimiter: '\r\n', maxFrameBytes: cap, frameGapMs: 0, now: () => 0 });
      const out: DelimitedOutput[] = [];
      p.on('data', (o: DelimitedOutput) => out.push(o));
      for (const part of parts) {
        p.write(Buffer.from(part));
        assert.ok(p.bufferedBytes <= cap + 1);
      }
      await new Promise((r) => setImmediate(r));
      const got = out.map((o) => (o.kind === 'frame' ? o.bytes.toString('latin1') : { drop: o.reason }));
      assert.deepEqual(got, reference(data, cap));
      p.destroy();
    }),
    { numRuns: 300 },
  );
});

test('fuzz type S lines up to and past the full 512 bytes: framing never throws; a pass is printable and within the cap', () => {
  const printable = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: SUN_READER_MAX_LINE_BYTES + 40, size: 'max' });
  fc.assert(
    fc.property(fc.oneof(bytes(SUN_READER_MAX_LINE_BYTES + 40), printable.map((s) => new TextEncoder().encode(s)), printable.map((s) => new TextEncoder().encode(`https://c.example/t?picc_data=${s}`))), (line) => {
      const r = parseSunReaderLine(line);
      if (!r.ok) return;
      assert.ok(line.length <= SUN_READER_MAX_LINE_BYTES);
      assert.ok(line.every((b) => b >= 0x21 && b <= 0x7e));
      if (r.kind === 'uid') assert.ok(LINE_READER_UID_LENGTHS.includes(r.uid.length));
      // Whatever passes the framing, the verifier decides without throwing; random text never verifies.
      const v = verifySunUri(r.kind === 'sun' ? r.text : '', [SPEC_KEYS]);
      assert.equal(v.ok, false);
    }),
    { numRuns: 2000 },
  );
});

test('fuzz type S lines at full length: a genuine SUN message among other parameters, padded to 512 bytes, verifies as itself', () => {
  const param = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.~%'), minLength: 1, maxLength: 12 });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.array(fc.tuple(param, param), { maxLength: 6 }), fc.boolean(), (counter, extra, swap) => {
      const uri = encodeSunUri({ ...SPEC_KEYS, uid: '04A2B9C1D25E80', counter });
      const query = new URL(uri).searchParams;
      const picc = `picc_data=${query.get('picc_data') ?? ''}`;
      const cmac = `cmac=${query.get('cmac') ?? ''}`;
      const params = [...extra.map(([k, v]) => `x${k}=${v}`), ...(swap ? [cmac, picc] : [picc, cmac])];
      let text = `https://laundry.example.org/t?${params.join('&')}`;
      // Pad with one more parameter to exactly the reader's longest line.
      if (text.length + 3 <= SUN_READER_MAX_LINE_BYTES) text = `${text}&p=`.padEnd(SUN_READER_MAX_LINE_BYTES, 'P');
      const line = new TextEncoder().encode(text);
      const r = parseSunReaderLine(line);
      if (line.length > SUN_READER_MAX_LINE_BYTES) {
        assert.equal(r.ok, false);
        return;
      }
      assert.ok(r.ok && r.kind === 'sun', JSON.stringify(r));
      const v = verifySunUri(r.text, [SPEC_KEYS]);
      assert.ok(v.ok, JSON.stringify(v));
      assert.equal(v.counter, counter);
      assert.equal(v.uid, '04A2B9C1D25E80');
    }),
    { numRuns: 500 },
  );
});

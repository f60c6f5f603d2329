// The pure parts, byte by byte: line validation, the EM4100 framer, QR text rules, debounce,
// the capped delimiter parser (with a hand-driven clock) and the config schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PresentationDebouncer, DEFAULT_DEBOUNCE_MS } from '../../protocols/readers/debounce.js';
import { Em4100Framer, em4100Checksum, encodeEm4100Frame, parseEm4100Body } from '../../protocols/readers/em4100.js';
import { encodeLineReaderLine, parseLineReaderLine } from '../../protocols/readers/line-reader.js';
import { parseQrText } from '../../protocols/readers/qr-scanner.js';
import { CappedDelimiterParser, type DelimitedOutput } from '../../gateway/readers/capped-delimiter.js';
import { readerConfigSchema, readersConfigSchema } from '../../gateway/readers/config-schema.js';

const enc = (s: string): Buffer => Buffer.from(s, 'latin1');

test('line reader: 8, 14 and 20 uppercase hex characters are a UID, nothing else is', () => {
  for (const uid of ['DEADBEEF', '04A2B9C1D25E80', '0123456789ABCDEF0123']) assert.deepEqual(parseLineReaderLine(enc(uid)), { ok: true, uid });
  assert.deepEqual(parseLineReaderLine(enc('')), { ok: false, reason: 'empty' });
  assert.deepEqual(parseLineReaderLine(enc('DEADBEE')), { ok: false, reason: 'bad-length' });
  assert.deepEqual(parseLineReaderLine(enc('DEADBEEF00')), { ok: false, reason: 'bad-length' });
  assert.deepEqual(parseLineReaderLine(enc('deadbeef')), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseLineReaderLine(enc(' DEADBEEF')), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseLineReaderLine(enc('DEADBEEF\r')), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseLineReaderLine(enc('A'.repeat(65))), { ok: false, reason: 'oversize' });
  assert.equal(Buffer.from(encodeLineReaderLine('DEADBEEF')).toString('latin1'), 'DEADBEEF\r\n');
});

test('EM4100: checksum is the XOR of the five data bytes; uid is the 10 data characters, uppercase', () => {
  // 0x0F ^ 0x00 ^ 0xA1 ^ 0xB2 ^ 0xC3 = 0xDF
  assert.equal(em4100Checksum('0F00A1B2C3'), 'DF');
  assert.deepEqual([...encodeEm4100Frame('0F00A1B2C3')], [0x02, ...enc('0F00A1B2C3DF'), 0x03]);
  assert.deepEqual(parseEm4100Body(enc('0F00A1B2C3DF')), { ok: true, uid: '0F00A1B2C3' });
  assert.deepEqual(parseEm4100Body(enc('0f00a1b2c3df')), { ok: true, uid: '0F00A1B2C3' });
  assert.deepEqual(parseEm4100Body(enc('0F00A1B2C3DE')), { ok: false, reason: 'bad-checksum' });
  assert.deepEqual(parseEm4100Body(enc('0F00A1B2C3D')), { ok: false, reason: 'bad-length' });
  assert.deepEqual(parseEm4100Body(enc('0F00A1B2C3DG')), { ok: false, reason: 'bad-char' });
  assert.deepEqual(parseEm4100Body(enc('0F0\r\n1B2C3')), { ok: false, reason: 'bad-char' });
});

test('EM4100 framer: resynchronises on STX, reports stray bytes, cut and oversized frames', () => {
  const f = new Em4100Framer();
  const good = encodeEm4100Frame('0F00A1B2C3');
  // One byte at a time, as a slow UART delivers it.
  const evs = [...good].flatMap((b) => f.push(Uint8Array.of(b)));
  assert.deepEqual(evs, [{ kind: 'frame', uid: '0F00A1B2C3' }]);
  assert.deepEqual(f.push(Buffer.concat([enc('xy'), Buffer.from(good.subarray(0, 5)), Buffer.from(good)])), [
    { kind: 'noise', reason: 'stray-bytes', bytes: 2 },
    { kind: 'noise', reason: 'cut-frame', bytes: 5 },
    { kind: 'frame', uid: '0F00A1B2C3' },
  ]);
  const big = Buffer.concat([Uint8Array.of(0x02), Buffer.alloc(1000, 0x41), Uint8Array.of(0x03), Buffer.from(good)]);
  assert.deepEqual(f.push(big), [
    { kind: 'noise', reason: 'oversize', bytes: 64 },
    { kind: 'frame', uid: '0F00A1B2C3' },
  ]);
  assert.equal(f.bufferedBytes, 0);
  f.push(Uint8Array.of(0x02, 0x41));
  assert.equal(f.bufferedBytes, 1);
  f.reset();
  assert.equal(f.bufferedBytes, 0);
});

test('QR text: any printable UTF-8 up to 2048 bytes; a CR LF scanner leaves no LF behind', () => {
  assert.deepEqual(parseQrText(enc('LW1:ABC')), { ok: true, text: 'LW1:ABC' });
  assert.deepEqual(parseQrText(enc('\nLW1:ABC')), { ok: true, text: 'LW1:ABC' });
  assert.deepEqual(parseQrText(Buffer.from('Straße 7', 'utf8')), { ok: true, text: 'Straße 7' });
  assert.deepEqual(parseQrText(enc('')), { ok: false, reason: 'empty' });
  assert.deepEqual(parseQrText(enc('\n')), { ok: false, reason: 'empty' });
  assert.deepEqual(parseQrText(enc('A\tB')), { ok: false, reason: 'control-char' });
  assert.deepEqual(parseQrText(enc('A\x7fB')), { ok: false, reason: 'control-char' });
  assert.deepEqual(parseQrText(Buffer.from('A\u0085B', 'utf8')), { ok: false, reason: 'control-char' });
  assert.deepEqual(parseQrText(Buffer.from([0x41, 0xff])), { ok: false, reason: 'bad-encoding' });
  assert.deepEqual(parseQrText(Buffer.from([0xed, 0xa0, 0x80])), { ok: false, reason: 'bad-encoding' }); // a UTF-16 surrogate
  assert.deepEqual(parseQrText(enc('Z'.repeat(2048))).ok, true);
  assert.deepEqual(parseQrText(enc('Z'.repeat(2049))), { ok: false, reason: 'oversize' });
});

test('debounce: the window slides from the last sighting; memory is bounded', () => {
  const d = new PresentationDebouncer({ windowMs: DEFAULT_DEBOUNCE_MS.line });
  assert.equal(d.observe('A', 0), 'new');
  // Held for a minute, a line every 300 ms: still one presentation.
  for (let t = 300; t <= 60_000; t += 300) assert.equal(d.observe('A', t), 'repeat');
  assert.equal(d.observe('B', 60_100), 'new');
  assert.equal(d.observe('A', 61_999), 'repeat');
  assert.equal(d.observe('A', 64_000), 'new'); // exactly 2 s after the last line
  assert.equal(d.observe('A', 63_000), 'repeat'); // time going back is never a new swipe
  const small = new PresentationDebouncer({ windowMs: 3000, maxKeys: 4 });
  for (let i = 0; i < 100; i++) small.observe(`K${i}`, i);
  assert.equal(small.size, 4);
  small.observe('X', 10_000); // everything else has expired
  assert.equal(small.size, 1);
  small.clear();
  assert.equal(small.size, 0);
});

async function runParser(p: CappedDelimiterParser, steps: { at: number; bytes: string }[], clock: { t: number }): Promise<DelimitedOutput[]> {
  const out: DelimitedOutput[] = [];
  p.on('data', (o: DelimitedOutput) => out.push(o));
  for (const s of steps) {
    clock.t = s.at;
    p.write(enc(s.bytes));
    await new Promise((r) => setImmediate(r));
  }
  return out;
}

const frames = (out: DelimitedOutput[]): (string | { drop: string })[] =>
  out.map((o) => (o.kind === 'frame' ? o.bytes.toString('latin1') : { drop: o.reason }));

test('capped delimiter: split delimiters, a frame exactly at the cap, oversize skipped to the next delimiter', async () => {
  const clock = { t: 0 };
  const p = new CappedDelimiterParser({ delimiter: '\r\n', maxFrameBytes: 8, frameGapMs: 0, now: () => clock.t });
  const out = await runParser(
    p,
    [
      { at: 0, bytes: 'AB\r' },
      { at: 1, bytes: '\nCDEFGHIJ\r' }, // exactly 8, delimiter split
      { at: 2, bytes: '\n0123456789' },
      { at: 3, bytes: 'more junk\r' },
      { at: 4, bytes: '\nOK\r\n' },
    ],
    clock,
  );
  assert.deepEqual(frames(out), ['AB', 'CDEFGHIJ', { drop: 'oversize' }, 'OK']);
  assert.equal(p.bufferedBytes, 0);
});

test('capped delimiter: a partial frame followed by silence longer than the gap is dropped as cut', async () => {
  const clock = { t: 0 };
  const p = new CappedDelimiterParser({ delimiter: '\r\n', maxFrameBytes: 64, frameGapMs: 100, now: () => clock.t });
  const out = await runParser(
    p,
    [
      { at: 0, bytes: 'AABBCC' }, // cut
      { at: 400, bytes: '04A2B9C1D25E80\r\n' },
      { at: 700, bytes: '04A2B9' }, // arrives in pieces, but quickly
      { at: 720, bytes: 'C1D25E80\r\n' },
      { at: 1000, bytes: 'X'.repeat(100) }, // oversize...
      { at: 1500, bytes: 'DEADBEEF\r\n' }, // ...then quiet: the next frame is not swallowed
    ],
    clock,
  );
  assert.deepEqual(frames(out), [{ drop: 'cut-frame' }, '04A2B9C1D25E80', '04A2B9C1D25E80', { drop: 'oversize' }, 'DEADBEEF']);
});

test('config: defaults per family, strict keys, unique ids and paths', () => {
  const l = readerConfigSchema.parse({ id: 'W1-card', type: 'line', path: '/dev/serial/by-id/usb-x', attachedTo: { machineId: 'W1' } });
  assert.equal(l.baudRate, 9600);
  assert.equal(l.debounceMs, 2000);
  assert.equal(l.frameGapMs, 100);
  const q = readerConfigSchema.parse({ id: 'kiosk-qr', type: 'qr', path: '/dev/ttyACM0', baudRate: 115200, attachedTo: 'kiosk' });
  assert.equal(q.debounceMs, 3000);
  assert.equal(readerConfigSchema.safeParse({ ...q, baudRate: 1234 }).success, false);
  assert.equal(readerConfigSchema.safeParse({ ...q, attachedTo: 'W1' }).success, false);
  assert.equal(readerConfigSchema.safeParse({ ...q, extra: 1 }).success, false);
  assert.equal(readerConfigSchema.safeParse({ ...q, path: 'ttyUSB0' }).success, false);
  assert.equal(readerConfigSchema.safeParse({ ...q, reopenMinMs: 1000, reopenMaxMs: 500 }).success, false);
  const dup = readersConfigSchema.safeParse([
    { id: 'a', type: 'line', path: '/dev/x', attachedTo: 'kiosk' },
    { id: 'a', type: 'qr', path: '/dev/x', attachedTo: 'kiosk' },
  ]);
  assert.equal(dup.success, false);
  assert.equal(dup.error?.issues.length, 2);
});

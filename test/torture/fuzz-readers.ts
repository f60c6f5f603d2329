// Input 1: the bytes a card reader or QR scanner line carries, through the framing a SerialReader
// runs on them (gateway/readers/serial-reader.ts onData/onDelimited): the capped CR LF / CR
// delimiter with its frame gap, then the family's validation (line, QR, type S), or the EM4100
// framer. Type S lines are generated up to their full 512 bytes.
// Whatever the bytes, nothing throws, the pending buffer stays under the family's cap, every
// drop has a reason, and a card or code comes out only where the bytes held a valid frame. Clean
// streams (frames among junk lines, overlong lines, cut frames followed by a quiet line) yield
// every frame, in order.
import fc from 'fast-check';
import { EM4100_ETX, EM4100_MAX_FRAME_BYTES, EM4100_STX, Em4100Framer, encodeEm4100Frame, parseEm4100Body } from '../../protocols/readers/em4100.js';
import { LINE_READER_DELIMITER, LINE_READER_MAX_LINE_BYTES, LINE_READER_UID_LENGTHS, parseLineReaderLine } from '../../protocols/readers/line-reader.js';
import { NOISE_REASONS, type NoiseReason } from '../../protocols/readers/noise.js';
import { QR_DELIMITER, QR_MAX_TEXT_BYTES, parseQrText } from '../../protocols/readers/qr-scanner.js';
import { SUN_READER_MAX_LINE_BYTES, parseSunReaderLine } from '../../protocols/readers/sun-reader.js';
import { CappedDelimiterParser, type DelimitedOutput } from '../../gateway/readers/capped-delimiter.js';
import { DEFAULT_FRAME_GAP_MS } from '../../gateway/readers/config-schema.js';
import { Tally, must, runProperties, splitAt, type FuzzEnv, type FuzzProperty, type InputReport } from './fuzz-common.js';

type Family = 'line' | 'em4100' | 'qr' | 'sun';
type ReaderEvent = { kind: 'present'; key: string } | { kind: 'noise'; reason: NoiseReason; bytes: number };

const NOISE = new Set<string>(NOISE_REASONS);
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** The framing half of SerialReader, without the port: bytes in, presentations and noise out, synchronously. */
class ReaderFraming {
  readonly events: ReaderEvent[] = [];
  private readonly framer: Em4100Framer | null;
  private readonly parser: CappedDelimiterParser | null;
  private nowMs = 0;

  constructor(readonly family: Family) {
    this.framer = family === 'em4100' ? new Em4100Framer() : null;
    this.parser =
      family === 'em4100'
        ? null
        : new CappedDelimiterParser({
            delimiter: family === 'qr' ? QR_DELIMITER : LINE_READER_DELIMITER,
            maxFrameBytes: family === 'line' ? LINE_READER_MAX_LINE_BYTES : family === 'sun' ? SUN_READER_MAX_LINE_BYTES : QR_MAX_TEXT_BYTES,
            frameGapMs: DEFAULT_FRAME_GAP_MS[family],
            now: () => this.nowMs,
          });
  }

  /** The most a family may hold for an unfinished frame. */
  get cap(): number {
    if (this.family === 'em4100') return EM4100_MAX_FRAME_BYTES - 2;
    if (this.family === 'sun') return SUN_READER_MAX_LINE_BYTES + LINE_READER_DELIMITER.length - 1;
    return this.family === 'line' ? LINE_READER_MAX_LINE_BYTES + LINE_READER_DELIMITER.length - 1 : QR_MAX_TEXT_BYTES + QR_DELIMITER.length - 1;
  }

  get pending(): number {
    return this.framer?.bufferedBytes ?? this.parser?.bufferedBytes ?? 0;
  }

  push(chunk: Uint8Array, afterMs: number): void {
    this.nowMs += afterMs;
    if (this.framer) {
      for (const ev of this.framer.push(chunk)) this.events.push(ev.kind === 'frame' ? { kind: 'present', key: ev.uid } : { kind: 'noise', reason: ev.reason, bytes: ev.bytes });
      return;
    }
    const p = this.parser;
    if (p === null) return;
    p.write(Buffer.from(chunk));
    // Read in paused mode right away, so every chunk is framed at its own time.
    for (let o = p.read() as DelimitedOutput | null; o !== null; o = p.read() as DelimitedOutput | null) this.delimited(o);
    must(p.writableLength === 0, 'harness: a chunk was left unframed');
  }

  close(): void {
    this.parser?.destroy();
  }

  private delimited(out: DelimitedOutput): void {
    if (out.kind === 'drop') {
      this.events.push({ kind: 'noise', reason: out.reason, bytes: out.bytes });
      return;
    }
    if (this.family === 'sun') {
      const s = parseSunReaderLine(out.bytes);
      // The key is the line as sent, so a UID: line and a SUN line are checked the same way.
      if (s.ok) this.events.push({ kind: 'present', key: s.kind === 'uid' ? `UID:${s.uid}` : s.text });
      else this.events.push({ kind: 'noise', reason: s.reason, bytes: out.bytes.length });
      return;
    }
    const r = this.family === 'qr' ? parseQrText(out.bytes) : parseLineReaderLine(out.bytes);
    if (r.ok) this.events.push({ kind: 'present', key: 'text' in r ? r.text : r.uid });
    else this.events.push({ kind: 'noise', reason: r.reason, bytes: out.bytes.length });
  }
}

/** Every uid a valid STX..ETX frame anywhere in `data` would carry. */
function em4100UidsIn(data: Uint8Array): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i + 13 < data.length; i++) {
    if (data[i] !== EM4100_STX || data[i + 13] !== EM4100_ETX) continue;
    const r = parseEm4100Body(data.subarray(i + 1, i + 13));
    if (r.ok) out.add(r.uid);
  }
  return out;
}

/** The checks that hold whatever the bytes were. */
function checkEvents(f: ReaderFraming, data: Uint8Array, tally: Tally): void {
  const latin1 = Buffer.from(data).toString('latin1');
  let emUids: Set<string> | null = null;
  for (const ev of f.events) {
    if (ev.kind === 'noise') {
      must(NOISE.has(ev.reason), `noise with unknown reason ${ev.reason}`);
      must(Number.isInteger(ev.bytes) && ev.bytes >= 0 && (ev.bytes > 0 || ev.reason === 'empty'), `noise ${ev.reason} of ${ev.bytes} bytes`);
      tally.reject(ev.reason);
      continue;
    }
    tally.accept();
    const key = ev.key;
    if (f.family === 'line') {
      must(/^[0-9A-F]+$/.test(key) && LINE_READER_UID_LENGTHS.includes(key.length), `line uid ${key} is not 8/14/20 uppercase hex`);
      must(latin1.includes(`${key}\r\n`), `line uid ${key} is not followed by CR LF anywhere in the input`);
    } else if (f.family === 'sun') {
      must(key.length > 0 && key.length <= SUN_READER_MAX_LINE_BYTES && /^[\x21-\x7e]+$/.test(key), `type S line of ${key.length} bytes is empty, oversize or not printable`);
      if (key.startsWith('UID:')) must(/^[0-9A-F]+$/.test(key.slice(4)) && LINE_READER_UID_LENGTHS.includes(key.length - 4), `type S ${key} is not 8/14/20 uppercase hex`);
      else must(key.includes('picc_data=') || key.includes('cmac='), 'a type S line naming neither picc_data nor cmac came out as a tap');
      must(latin1.includes(`${key}\r\n`), 'type S line is not followed by CR LF anywhere in the input');
    } else if (f.family === 'em4100') {
      emUids ??= em4100UidsIn(data);
      must(emUids.has(key), `EM4100 uid ${key} is not in any valid frame of the input`);
    } else {
      must(key.length > 0 && Buffer.byteLength(key) <= QR_MAX_TEXT_BYTES && !CONTROL.test(key), 'QR text empty, oversize or with a control character');
      must(Buffer.from(data).includes(Buffer.from(`${key}\r`)), 'QR text is not followed by CR anywhere in the input');
    }
  }
  must(f.pending <= f.cap, `${f.pending} bytes pending, above the cap of ${f.cap}`);
}

// ---- generators ---------------------------------------------------------------------------------

const family = fc.constantFrom<Family>('line', 'em4100', 'qr', 'sun');
// Bytes skewed towards the ones the framers act on, so frames and near-frames occur.
const lineByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x0d, 0x0a, 0x41, 0x30, 0x46, 0x39, 0x02, 0x03, 0x61));
const noiseBytes = fc.oneof(
  { weight: 4, arbitrary: fc.array(lineByte, { maxLength: 300, size: 'max' }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 3000, size: 'max' }) },
).map((a) => Uint8Array.from(a));
const gap = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 400 }));

const hex = (n: number, alphabet = '0123456789ABCDEF'): fc.Arbitrary<string> => fc.array(fc.constantFrom(...alphabet), { minLength: n, maxLength: n }).map((a) => a.join(''));
const lineUid = fc.constantFrom(...LINE_READER_UID_LENGTHS).chain((n) => hex(n));
const emUid = hex(10, '0123456789ABCDEFabcdef');
const qrText = fc
  .string({ unit: fc.oneof(fc.constantFrom(...'LW1:0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 300, size: 'max' })
  .filter((s) => !CONTROL.test(s) && s.length > 0 && Buffer.byteLength(s) <= QR_MAX_TEXT_BYTES);

interface Item {
  bytes: Uint8Array;
  /** The key this item must present, if any. */
  expect: string | null;
  /** A cut frame: a quiet line longer than the frame gap follows it. */
  stub: boolean;
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts.map((p) => Buffer.from(p))));

function lineItems(): fc.Arbitrary<Item[]> {
  const frame = lineUid.map((uid): Item => ({ bytes: enc(`${uid}\r\n`), expect: uid, stub: false }));
  const junkLen = fc.oneof({ weight: 5, arbitrary: fc.nat(80) }, { weight: 1, arbitrary: fc.integer({ min: 60, max: 5000 }) });
  const junk = junkLen.chain((n) => fc.array(lineByte.filter((b) => b !== 0x0d), { minLength: n, maxLength: n })).map((a): Item => {
    const body = Uint8Array.from(a);
    const r = parseLineReaderLine(body);
    return { bytes: cat(body, enc('\r\n')), expect: r.ok ? r.uid : null, stub: false };
  });
  const stub = lineUid.chain((uid) => fc.integer({ min: 1, max: uid.length }).map((n): Item => ({ bytes: enc(uid.slice(0, n)), expect: null, stub: true })));
  return fc.array(fc.oneof({ weight: 4, arbitrary: frame }, { weight: 2, arbitrary: junk }, { weight: 1, arbitrary: stub }), { maxLength: 12 });
}

function em4100Items(): fc.Arbitrary<Item[]> {
  const frame = emUid.map((uid): Item => ({ bytes: encodeEm4100Frame(uid), expect: uid.toUpperCase(), stub: false }));
  const noStx = fc.integer({ min: 0, max: 255 }).filter((b) => b !== EM4100_STX);
  const stray = fc.array(noStx, { minLength: 1, maxLength: 60 }).map((a): Item => ({ bytes: Uint8Array.from(a), expect: null, stub: false }));
  // A frame cut short, then a whole one: the new STX ends the cut one.
  const cutThenFrame = fc.tuple(emUid, fc.integer({ min: 0, max: 11 }), emUid).map(([a, n, b]): Item => {
    const cut = encodeEm4100Frame(a).subarray(0, 1 + n);
    return { bytes: cat(cut, encodeEm4100Frame(b)), expect: b.toUpperCase(), stub: false };
  });
  const overlong = fc
    .array(fc.integer({ min: 0, max: 255 }).filter((b) => b !== EM4100_STX && b !== EM4100_ETX), { minLength: EM4100_MAX_FRAME_BYTES, maxLength: 2000, size: 'max' })
    .map((a): Item => ({ bytes: cat(Uint8Array.of(EM4100_STX), Uint8Array.from(a), Uint8Array.of(EM4100_ETX)), expect: null, stub: false }));
  return fc.array(fc.oneof({ weight: 4, arbitrary: frame }, { weight: 2, arbitrary: stray }, { weight: 2, arbitrary: cutThenFrame }, { weight: 1, arbitrary: overlong }), { maxLength: 12 });
}

function qrItems(): fc.Arbitrary<Item[]> {
  const text = fc.tuple(qrText, fc.boolean()).map(([t, lf]): Item => ({ bytes: enc(`${lf ? '\n' : ''}${t}\r`), expect: t, stub: false }));
  const junkLen = fc.oneof({ weight: 5, arbitrary: fc.nat(100) }, { weight: 1, arbitrary: fc.integer({ min: QR_MAX_TEXT_BYTES - 10, max: QR_MAX_TEXT_BYTES + 3000 }) });
  const junk = junkLen.chain((n) => fc.array(fc.integer({ min: 0, max: 255 }).filter((b) => b !== 0x0d), { minLength: n, maxLength: n })).map((a): Item => {
    const body = Uint8Array.from(a);
    const r = parseQrText(body);
    return { bytes: cat(body, enc('\r')), expect: r.ok ? r.text : null, stub: false };
  });
  const stub = qrText.map((t): Item => ({ bytes: enc(t), expect: null, stub: true }));
  return fc.array(fc.oneof({ weight: 4, arbitrary: text }, { weight: 2, arbitrary: junk }, { weight: 1, arbitrary: stub }), { maxLength: 10 });
}

/** SUN URI lines from a few bytes to the full 512: the operator's host and path, both parameters, padding. */
const sunText = fc
  .tuple(hex(32), hex(16), fc.boolean(), fc.integer({ min: 0, max: SUN_READER_MAX_LINE_BYTES }), fc.constantFrom('https://c.example/t', 'https://laundry.example.org/card/v1', ''))
  .map(([picc, cmac, swap, want, base]) => {
    const head = swap ? `${base}?cmac=${cmac}&picc_data=${picc}` : `${base}?picc_data=${picc}&cmac=${cmac}`;
    const room = SUN_READER_MAX_LINE_BYTES - head.length - 3;
    return room > 0 && want > head.length ? `${head}&p=${'Z'.repeat(Math.min(room, want - head.length))}` : head;
  });

function sunItems(): fc.Arbitrary<Item[]> {
  const full = sunText.map((t): Item => ({ bytes: enc(`${t}\r\n`), expect: t, stub: false }));
  const atCap = sunText.map((t) => (t.length + 3 <= SUN_READER_MAX_LINE_BYTES ? `${t}&q=`.padEnd(SUN_READER_MAX_LINE_BYTES, 'Y') : t)).map((t): Item => ({ bytes: enc(`${t}\r\n`), expect: t, stub: false }));
  const plain = lineUid.map((uid): Item => ({ bytes: enc(`UID:${uid}\r\n`), expect: `UID:${uid}`, stub: false }));
  const junkLen = fc.oneof({ weight: 5, arbitrary: fc.nat(120) }, { weight: 1, arbitrary: fc.integer({ min: SUN_READER_MAX_LINE_BYTES - 5, max: 4000 }) });
  const junk = junkLen.chain((n) => fc.array(lineByte.filter((b) => b !== 0x0d), { minLength: n, maxLength: n })).map((a): Item => {
    const body = Uint8Array.from(a);
    const r = parseSunReaderLine(body);
    return { bytes: cat(body, enc('\r\n')), expect: r.ok ? (r.kind === 'uid' ? `UID:${r.uid}` : r.text) : null, stub: false };
  });
  const overlong = sunText.map((t): Item => ({ bytes: enc(`${t.padEnd(SUN_READER_MAX_LINE_BYTES + 1, 'W')}\r\n`), expect: null, stub: false }));
  const stub = sunText.chain((t) => fc.integer({ min: 1, max: t.length }).map((n): Item => ({ bytes: enc(t.slice(0, n)), expect: null, stub: true })));
  return fc.array(
    fc.oneof({ weight: 4, arbitrary: full }, { weight: 2, arbitrary: atCap }, { weight: 2, arbitrary: plain }, { weight: 2, arbitrary: junk }, { weight: 1, arbitrary: overlong }, { weight: 1, arbitrary: stub }),
    { maxLength: 10 },
  );
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

export async function fuzzReaders(env: FuzzEnv): Promise<InputReport> {
  const tally = new Tally();
  const streams = { random: 0, clean: 0, framesExpected: 0 };
  const t0 = performance.now();

  const randomBytes: FuzzProperty = {
    id: 'readers.random-bytes',
    weight: 3,
    property: () =>
      fc.property(family, noiseBytes, cuts, fc.array(gap, { maxLength: 13 }), (fam, data, cs, gaps) => {
        streams.random++;
        const f = new ReaderFraming(fam);
        try {
          splitAt(data, cs).forEach((part, i) => f.push(part, gaps[i] ?? 0));
          checkEvents(f, data, tally);
        } finally {
          f.close();
        }
        return true;
      }),
  };

  const clean = (fam: Family, items: fc.Arbitrary<Item[]>): FuzzProperty => ({
    id: `readers.clean-${fam}`,
    weight: 1,
    property: () =>
      fc.property(items, fc.array(cuts, { maxLength: 12 }), fc.array(fc.integer({ min: 0, max: DEFAULT_FRAME_GAP_MS[fam] || 50 }), { maxLength: 40 }), (list, itemCuts, smallGaps) => {
        streams.clean++;
        const f = new ReaderFraming(fam);
        const gapLimit = DEFAULT_FRAME_GAP_MS[fam];
        let g = 0;
        let quiet = false;
        try {
          list.forEach((item, i) => {
            splitAt(item.bytes, itemCuts[i] ?? []).forEach((part, k) => {
              // Within a frame and between frames the line is never quiet for longer than the
              // frame gap, except right after a cut frame: that is how a cut is recognised.
              const wait = k === 0 && quiet ? gapLimit + 1 + (smallGaps[g] ?? 0) : (smallGaps[g] ?? 0);
              g++;
              f.push(part, wait);
            });
            quiet = item.stub;
          });
          const data = cat(...list.map((i) => i.bytes));
          checkEvents(f, data, tally);
          const want = list.flatMap((i) => (i.expect === null ? [] : [i.expect]));
          const got = f.events.flatMap((e) => (e.kind === 'present' ? [e.key] : []));
          streams.framesExpected += want.length;
          must(JSON.stringify(got) === JSON.stringify(want), () => `${fam}: presented ${JSON.stringify(got).slice(0, 300)}, expected ${JSON.stringify(want).slice(0, 300)}`);
        } finally {
          f.close();
        }
        return true;
      }),
  });

  const { runs, violations } = await runProperties(env, [randomBytes, clean('line', lineItems()), clean('em4100', em4100Items()), clean('qr', qrItems()), clean('sun', sunItems())]);
  return {
    input: 'readers',
    title: 'card reader (types L, E, S) and QR scanner bytes through the reader framing',
    runs,
    seconds: (performance.now() - t0) / 1000,
    tally,
    extra: { 'streams random': streams.random, 'streams clean': streams.clean, 'frames expected in clean streams': streams.framesExpected },
    violations,
  };
}

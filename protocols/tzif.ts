// TZif, the compiled time zone files of /usr/share/zoneinfo (RFC 8536), and the POSIX TZ rule in
// their footer: bytes in, a zone's UTC offset at any instant out. The daemon reads the room's
// local time from these instead of Intl, whose first DateTimeFormat maps ~8 MiB of ICU data into
// a process that otherwise never needs it (docs/performance.md, section 8).
//
// Offsets are in seconds east of UTC (Berlin in winter: +3600). Instants are seconds since the
// epoch. Before the first transition the first time type applies, after the last one the footer's
// rule (RFC 8536 section 3.2), which is what tzdata's "slim" files rely on for every date after
// their last explicit change.

export interface TzRule {
  stdOffset: number;
  /** null: no daylight saving time in the rule. */
  dst: null | { offset: number; start: RuleDate; startSec: number; end: RuleDate; endSec: number };
}

/** When a rule switches, on the local calendar: Jn (julian, no Feb 29), n (zero-based, with it), Mm.w.d. */
export type RuleDate = { kind: 'julian'; day: number } | { kind: 'day'; day: number } | { kind: 'month'; month: number; week: number; weekday: number };

export interface TzInfo {
  /** Transition instants, ascending. */
  transitions: readonly number[];
  /** The offset in force from each transition on. */
  offsets: readonly number[];
  /** The offset before the first transition. */
  initialOffset: number;
  /** The footer's rule, for instants after the last transition; null when the file has none. */
  rule: TzRule | null;
}

export class TzifError extends Error {}

const HEADER = 44;

function counts(b: Uint8Array, at: number): { isut: number; isstd: number; leap: number; time: number; type: number; char: number } {
  const v = new DataView(b.buffer, b.byteOffset + at + 20, 24);
  return { isut: v.getUint32(0), isstd: v.getUint32(4), leap: v.getUint32(8), time: v.getUint32(12), type: v.getUint32(16), char: v.getUint32(20) };
}

function checkMagic(b: Uint8Array, at: number): number {
  if (b.length < at + HEADER || b[at] !== 0x54 || b[at + 1] !== 0x5a || b[at + 2] !== 0x69 || b[at + 3] !== 0x66) throw new TzifError('not a TZif file (no "TZif" header)');
  return b[at + 4] ?? 0;
}

/** Parses a TZif file; the 64-bit block and the footer when the file has them (version 2+). */
export function parseTzif(b: Uint8Array): TzInfo {
  const version = checkMagic(b, 0);
  const c1 = counts(b, 0);
  const v1Size = c1.time * 5 + c1.type * 6 + c1.char + c1.leap * 8 + c1.isstd + c1.isut;
  if (version === 0) return block(b, HEADER, c1, 4, null);
  const at = HEADER + v1Size;
  checkMagic(b, at);
  const c = counts(b, at);
  const data = at + HEADER;
  const end = data + c.time * 9 + c.type * 6 + c.char + c.leap * 12 + c.isstd + c.isut;
  if (b.length < end) throw new TzifError('TZif file is truncated');
  let rule: TzRule | null = null;
  if (b[end] === 0x0a) {
    const close = b.indexOf(0x0a, end + 1);
    if (close < 0) throw new TzifError('TZif footer is not closed by a newline');
    const text = new TextDecoder().decode(b.subarray(end + 1, close));
    rule = text === '' ? null : parsePosixTz(text);
  }
  return block(b, data, c, 8, rule);
}

function block(b: Uint8Array, at: number, c: ReturnType<typeof counts>, timeSize: 4 | 8, rule: TzRule | null): TzInfo {
  if (c.type === 0) throw new TzifError('TZif file has no time type');
  const v = new DataView(b.buffer, b.byteOffset);
  if (b.length < at + c.time * (timeSize + 1) + c.type * 6) throw new TzifError('TZif file is truncated');
  const transitions: number[] = [];
  for (let i = 0; i < c.time; i++) transitions.push(timeSize === 8 ? Number(v.getBigInt64(at + i * 8)) : v.getInt32(at + i * 4));
  const idxAt = at + c.time * timeSize;
  const typeAt = idxAt + c.time;
  const typeOffset = (i: number): number => {
    if (i >= c.type) throw new TzifError(`TZif transition names time type ${i} of ${c.type}`);
    return v.getInt32(typeAt + i * 6);
  };
  const offsets: number[] = [];
  for (let i = 0; i < c.time; i++) offsets.push(typeOffset(b[idxAt + i] ?? 0));
  return { transitions, offsets, initialOffset: typeOffset(0), rule };
}

// ---- the POSIX TZ rule (the footer) -----------------------------------------------------------------

/** Parses e.g. `CET-1CEST,M3.5.0,M10.5.0/3`, `<+1030>-10:30<+11>-11,M10.1.0,M4.1.0`, `<-03>3`. */
export function parsePosixTz(text: string): TzRule {
  let i = 0;
  const fail = (why: string): never => {
    throw new TzifError(`TZ rule "${text}": ${why} at ${i}`);
  };
  const name = (): void => {
    if (text[i] === '<') {
      const close = text.indexOf('>', i);
      if (close < 0) fail('unclosed <name>');
      i = close + 1;
      return;
    }
    const start = i;
    while (i < text.length && /[A-Za-z]/.test(text[i] ?? '')) i++;
    if (i - start < 3) fail('a zone name of at least 3 letters expected');
  };
  /** [+-]hh[:mm[:ss]] in seconds. */
  const hms = (): number => {
    let sign = 1;
    if (text[i] === '+' || text[i] === '-') sign = text[i++] === '-' ? -1 : 1;
    const part = (): number => {
      const m = /^\d{1,3}/.exec(text.slice(i));
      if (m === null) return fail('a number expected');
      i += m[0].length;
      return Number(m[0]);
    };
    let s = part() * 3600;
    if (text[i] === ':') {
      i++;
      s += part() * 60;
      if (text[i] === ':') {
        i++;
        s += part();
      }
    }
    return sign * s;
  };
  const date = (): RuleDate => {
    if (text[i] === 'J') {
      i++;
      return { kind: 'julian', day: Math.abs(hms()) / 3600 };
    }
    if (text[i] === 'M') {
      const m = /^M(\d{1,2})\.(\d)\.(\d)/.exec(text.slice(i));
      if (m === null) return fail('Mm.w.d expected');
      i += m[0].length;
      return { kind: 'month', month: Number(m[1]), week: Number(m[2]), weekday: Number(m[3]) };
    }
    return { kind: 'day', day: Math.abs(hms()) / 3600 };
  };
  const time = (): number => {
    if (text[i] !== '/') return 7200;
    i++;
    return hms();
  };
  name();
  // POSIX offsets count west of UTC; ours east.
  const stdOffset = 0 - hms();
  if (i === text.length) return { stdOffset, dst: null };
  name();
  const offset = i < text.length && text[i] !== ',' ? 0 - hms() : stdOffset + 3600;
  // A TZif footer with daylight saving time always carries its rule; POSIX leaves the default to
  // the implementation and the US rule is the usual one.
  let rule = 'M3.2.0,M11.1.0';
  if (text[i] === ',') rule = text.slice(i + 1);
  else if (i !== text.length) fail('"," expected');
  const whole = text;
  text = rule;
  i = 0;
  const start = date();
  const startSec = time();
  if (text[i++] !== ',') fail(`"," expected in "${whole}"`);
  const end = date();
  const endSec = time();
  if (i !== text.length) fail(`trailing text in "${whole}"`);
  return { stdOffset, dst: { offset, start, startSec, end, endSec } };
}

const DAY = 86_400;
const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Seconds since the epoch of 00:00 of the rule's date in year y, as if local time were UTC. */
function ruleDay(y: number, d: RuleDate): number {
  const jan1 = Date.UTC(y, 0, 1) / 1000;
  if (d.kind === 'julian') return jan1 + (d.day - 1 + (isLeap(y) && d.day >= 60 ? 1 : 0)) * DAY;
  if (d.kind === 'day') return jan1 + d.day * DAY;
  const first = new Date(Date.UTC(y, d.month - 1, 1));
  const days = new Date(Date.UTC(y, d.month, 0)).getUTCDate();
  let day = 1 + ((d.weekday - first.getUTCDay() + 7) % 7) + (d.week - 1) * 7;
  while (day > days) day -= 7;
  return Date.UTC(y, d.month - 1, day) / 1000;
}

/** The rule's offset at an instant. */
export function ruleOffset(rule: TzRule, t: number): number {
  const dst = rule.dst;
  if (dst === null) return rule.stdOffset;
  const year = new Date((t + rule.stdOffset) * 1000).getUTCFullYear();
  for (const y of [year - 1, year, year + 1]) {
    // the switch to DST happens on standard time, the switch back on DST
    const start = ruleDay(y, dst.start) + dst.startSec - rule.stdOffset;
    const end = ruleDay(y, dst.end) + dst.endSec - dst.offset;
    if (start < end ? t >= start && t < end : y === year && (t < end || t >= start)) return dst.offset;
  }
  return rule.stdOffset;
}

/** The zone's offset (seconds east of UTC) at instant t (seconds since the epoch). */
export function offsetAt(z: TzInfo, t: number): number {
  const n = z.transitions.length;
  if (n === 0) return z.rule === null ? z.initialOffset : ruleOffset(z.rule, t);
  if (t < (z.transitions[0] ?? 0)) return z.initialOffset;
  if (t >= (z.transitions[n - 1] ?? 0) && z.rule !== null) return ruleOffset(z.rule, t);
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((z.transitions[mid] ?? 0) <= t) lo = mid;
    else hi = mid - 1;
  }
  return z.offsets[lo] ?? z.initialOffset;
}

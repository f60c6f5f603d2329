// The room's local time without Intl (protocols/tzif.ts, gateway/core/time-zone.ts): the system's
// zone files give the same wall clock as Intl (Node's ICU) for zones with every kind of rule, at
// random instants from 1975 to 2100 (after 2037 only the files' footer rules answer), and at
// every transition of the years around now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { isKnownTimeZone, localParts } from '../../gateway/core/time-zone.js';
import { TzifError, offsetAt, parsePosixTz, parseTzif, ruleOffset } from '../../protocols/tzif.js';

// Northern and southern DST, half- and quarter-hour offsets, a 30-minute DST (Lord Howe), negative
// DST (Dublin), none at all, +14 h.
const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'America/Los_Angeles',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Auckland',
  'Pacific/Chatham',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Europe/Dublin',
  'America/Santiago',
  'Asia/Tokyo',
  'Pacific/Kiritimati',
  'America/St_Johns',
  'UTC',
];

function intlParts(epochMs: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short', hourCycle: 'h23' }).formatToParts(new Date(epochMs));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '?';
  return `${get('year')}-${get('month')}-${get('day')} ${get('weekday')} ${Number(get('hour')) % 24}:${Number(get('minute'))}:${Number(get('second'))}`;
}

const WD = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
function ours(epochMs: number, timeZone: string): string {
  const p = localParts(epochMs, timeZone);
  return `${p.year}-${p.month}-${p.day} ${WD[p.weekday] ?? '?'} ${p.hour}:${p.minute}:${p.second}`;
}

test('local time from the zone files equals Intl at random instants, 1975-2100', () => {
  fc.assert(
    fc.property(fc.constantFrom(...ZONES), fc.integer({ min: Date.UTC(1975, 0, 1), max: Date.UTC(2100, 0, 1) }), (zone, t) => {
      assert.equal(ours(t, zone), intlParts(t, zone), `${zone} at ${new Date(t).toISOString()}`);
    }),
    { numRuns: 3000, seed: 20261207 },
  );
});

test('local time equals Intl on both sides of every transition from 2020 to 2045', () => {
  for (const zone of ZONES) {
    if (zone === 'UTC') continue;
    const z = parseTzif(readFileSync(`/usr/share/zoneinfo/${zone}`));
    // each transition found by scanning 6-hour steps, then to the second
    for (let t = Date.UTC(2020, 0, 1) / 1000; t < Date.UTC(2045, 0, 1) / 1000; t += 6 * 3600) {
      if (offsetAt(z, t) === offsetAt(z, t + 6 * 3600)) continue;
      let lo = t;
      let hi = t + 6 * 3600;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (offsetAt(z, mid) === offsetAt(z, t)) lo = mid;
        else hi = mid;
      }
      for (const ms of [hi * 1000 - 60_000, hi * 1000 - 1, hi * 1000, hi * 1000 + 59_000]) assert.equal(ours(ms, zone), intlParts(ms, zone), `${zone} at ${new Date(ms).toISOString()}`);
    }
  }
});

test('zone names: what the system has, UTC always, nothing outside the zone folder', () => {
  assert.ok(isKnownTimeZone('Europe/Berlin'));
  assert.ok(isKnownTimeZone('UTC'));
  assert.ok(isKnownTimeZone('America/Argentina/Buenos_Aires'));
  for (const bad of ['Mars/Olympus', 'Europe', '../../etc/passwd', 'Europe/../UTC', '', '/etc/localtime', 'Europe/Berlin/']) assert.equal(isKnownTimeZone(bad), false, bad);
  assert.throws(() => localParts(0, 'Mars/Olympus'), /unknown time zone Mars\/Olympus/);
});

test('POSIX rules: the forms a TZif footer uses', () => {
  assert.deepEqual(parsePosixTz('<-03>3'), { stdOffset: -3 * 3600, dst: null });
  const berlin = parsePosixTz('CET-1CEST,M3.5.0,M10.5.0/3');
  assert.equal(berlin.stdOffset, 3600);
  assert.equal(berlin.dst?.offset, 7200);
  assert.equal(ruleOffset(berlin, Date.UTC(2030, 6, 1) / 1000), 7200);
  assert.equal(ruleOffset(berlin, Date.UTC(2030, 0, 1) / 1000), 3600);
  // DST all year (start Jan 1 0:00, end Dec 31 25:00)
  const always = parsePosixTz('EST5EDT,0/0,J365/25');
  for (const m of [0, 5, 11]) assert.equal(ruleOffset(always, Date.UTC(2031, m, 15) / 1000), -4 * 3600);
  // Julian days skip Feb 29: J60 is March 1 in a leap year too
  const j = parsePosixTz('AAA0BBB,J60/0,J61/0');
  assert.equal(ruleOffset(j, Date.UTC(2032, 2, 1, 12) / 1000), 3600);
  assert.equal(ruleOffset(j, Date.UTC(2032, 1, 29, 12) / 1000), 0);
  assert.throws(() => parsePosixTz('X1'), TzifError);
  assert.throws(() => parsePosixTz('CET-1CEST,M3.5.0'), TzifError);
});

test('a file that is not TZif is refused', () => {
  assert.throws(() => parseTzif(new TextEncoder().encode('not a zone file at all, long enough to hold a header')), /not a TZif file/);
  const real = readFileSync('/usr/share/zoneinfo/Europe/Berlin');
  assert.throws(() => parseTzif(real.subarray(0, 60)), TzifError);
});

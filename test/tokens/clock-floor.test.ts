import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClockFloor } from '../../gateway/tokens/clock-floor.js';
import type { Clock } from '../../gateway/core/clock.js';
import { keyPairFromSeed, mintToken } from '../../protocols/qr-token/mint.js';
import { verifyToken } from '../../protocols/qr-token/verify.js';
import { SEED_1 } from './vector-set.js';

class FakeClock implements Clock {
  constructor(
    public wallMs: number,
    public monoMs = 1000,
  ) {}
  now(): number {
    return this.wallMs;
  }
  monotonic(): number {
    return this.monoMs;
  }
  /** Time passes: both clocks move, as on a running Pi. */
  pass(ms: number): void {
    this.wallMs += ms;
    this.monoMs += ms;
  }
}

const T = 1_800_000_000; // a real date
const BOOT_1970 = 60_000; // a Pi without RTC, booted offline

test('system clock behind the floor: tokens are judged by the floor', () => {
  const k = keyPairFromSeed(new Uint8Array(Buffer.from(SEED_1, 'hex')));
  // the system clock restored an old time (fake-hwclock from a stale image): 5000 s behind
  const clock = new FakeClock((T - 5000) * 1000);
  const floor = new ClockFloor({ clock, persistedSec: T, persist: () => {} });
  const s = floor.status();
  assert.equal(s.trusted, false);
  assert.equal(s.floorSec, T);
  assert.equal(s.nowSec, T);
  // a token that expired before the floor stays expired although the system clock says 1970
  const old = mintToken({ iss: 'c', aud: 'r', iat: T - 7200, exp: T - 3600, cti: new Uint8Array(8), amt: 1 }, k.privateKey);
  const ctx = (nowSec: number) => ({ roomId: 'r', nowSec, trustedKeys: [{ kid: k.kid, publicKey: k.publicKey, issuer: 'c' }], isUsed: () => false });
  assert.equal(verifyToken(old, ctx(floor.nowSec())).ok, false);
  assert.equal(verifyToken(old, ctx(Math.floor(clock.now() / 1000))).ok, true, 'the naive system clock would accept it');
  // the floor advances with running (monotonic) time even while the system clock is stuck
  clock.wallMs = BOOT_1970;
  clock.monoMs += 90_500;
  assert.equal(floor.nowSec(), T + 90);
});

test('the floor never moves back', () => {
  const clock = new FakeClock(T * 1000);
  const writes: number[] = [];
  const floor = new ClockFloor({ clock, persistedSec: T, persist: (s) => writes.push(s) });
  assert.equal(floor.advance(T + 1000, 'cloud'), true);
  assert.equal(floor.floorSec(), T + 1000);
  assert.equal(floor.advance(T + 10, 'cloud'), false);
  assert.equal(floor.advance(T + 999, 'ntp'), false);
  assert.equal(floor.advance(Number.NaN, 'cloud'), false);
  assert.equal(floor.floorSec(), T + 1000);
  clock.wallMs = 0; // someone sets the system clock back
  floor.tick();
  assert.ok(floor.nowSec() >= T + 1000);
  assert.equal(floor.status().trusted, false);
  for (let i = 0; i < 50; i++) {
    const before = floor.floorSec();
    clock.monoMs += 7_000;
    floor.advance(T + i, 'cloud');
    floor.tick();
    assert.ok(floor.floorSec() >= before);
  }
});

test('NTP-synchronized: the floor follows the system clock; unsynced it does not', () => {
  const clock = new FakeClock(T * 1000);
  let synced = false;
  const floor = new ClockFloor({ clock, persistedSec: T - 86400, persist: () => {}, isNtpSynchronized: () => synced });
  floor.tick();
  assert.equal(floor.floorSec(), T - 86400, 'an unsynced system clock is not trusted');
  assert.equal(floor.nowSec(), T, 'but trusted time is still the later of the two');
  synced = true;
  floor.tick();
  assert.equal(floor.floorSec(), T);
  assert.equal(floor.status().source, 'ntp');
  // a far-future unsynced system clock never becomes the floor
  synced = false;
  clock.wallMs = (T + 10 * 365 * 86400) * 1000;
  floor.tick();
  assert.ok(floor.floorSec() < T + 3600);
});

test('persists sparingly: runtime only every persistEveryMs, jumps at once, stop() once more', () => {
  const clock = new FakeClock(BOOT_1970);
  const writes: number[] = [];
  const floor = new ClockFloor({ clock, persistedSec: T, persist: (s) => writes.push(s), persistEveryMs: 15 * 60_000 });
  for (let i = 0; i < 14; i++) {
    clock.pass(60_000);
    floor.tick();
  }
  assert.deepEqual(writes, [], 'nothing within 15 minutes');
  clock.pass(60_000);
  floor.tick();
  assert.deepEqual(writes, [T + 900]);
  clock.pass(60_000);
  floor.tick();
  assert.equal(writes.length, 1);
  // cloud time that jumps ahead: written at once
  floor.advance(T + 5000, 'cloud');
  assert.deepEqual(writes.slice(1), [T + 5000]);
  // small steps from the cloud wait for the schedule
  clock.pass(1000);
  floor.advance(T + 5010, 'cloud');
  assert.equal(writes.length, 2);
  // one tick per minute for 3 hours: at most 12 more writes
  for (let i = 0; i < 180; i++) {
    clock.pass(60_000);
    floor.tick();
  }
  assert.ok(writes.length - 2 <= 12, `${writes.length - 2} writes in 3 hours`);
  const n = writes.length;
  clock.pass(5000);
  floor.stop();
  assert.equal(writes.length, n + 1);
  assert.equal(writes[writes.length - 1], floor.floorSec());
  floor.stop();
  assert.equal(writes.length, n + 1, 'nothing new to write');
});

test('a failing persist is retried on the next tick and never throws', () => {
  const clock = new FakeClock(T * 1000);
  let fail = true;
  const writes: number[] = [];
  const floor = new ClockFloor({ clock, persistedSec: T, persist: (s) => { if (fail) throw new Error('disk full'); writes.push(s); } });
  assert.doesNotThrow(() => floor.advance(T + 3600, 'cloud'));
  assert.equal(floor.floorSec(), T + 3600, 'the floor in memory moved anyway');
  fail = false;
  clock.pass(1000);
  floor.tick();
  assert.deepEqual(writes, [T + 3601]);
});

test('survives a restart through a real file: the floor comes back and never goes below it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clock-floor-'));
  const file = join(dir, 'floor');
  try {
    const persist = (s: number): void => writeFileSync(file, String(s));
    const load = (): number | undefined => (existsSync(file) ? Number(readFileSync(file, 'utf8')) : undefined);
    const c1 = new FakeClock(T * 1000);
    const f1 = new ClockFloor({ clock: c1, persistedSec: load(), persist, isNtpSynchronized: () => true });
    f1.tick();
    c1.pass(3_600_000);
    f1.tick();
    f1.stop();
    assert.equal(load(), T + 3600);
    // reboot offline, RTC-less: system clock in 1970, a new monotonic origin
    const c2 = new FakeClock(BOOT_1970, 5);
    const f2 = new ClockFloor({ clock: c2, persistedSec: load(), persist });
    assert.equal(f2.nowSec(), T + 3600);
    assert.equal(f2.status().trusted, false);
    // garbage in the settings is ignored, with the minimum as a last resort
    const f3 = new ClockFloor({ clock: c2, persistedSec: Number.NaN, minimumSec: T - 1, persist });
    assert.equal(f3.floorSec(), T - 1);
    assert.equal(f3.status().source, 'minimum');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('start() and stop() manage a timer that does not keep the process alive', () => {
  const clock = new FakeClock(T * 1000);
  const floor = new ClockFloor({ clock, persistedSec: T, persist: () => {}, tickEveryMs: 10 });
  floor.start();
  floor.start();
  floor.stop();
});

// Small operator/daemon key-value store: counters, the time floor. Internal ledger counters
// live in `meta`, out of reach of these setters.
import { z } from 'zod';
import { inTx, type LedgerContext } from './context.js';

const keySchema = z.string().min(1).max(128);
const TIME_FLOOR = 'time_floor_ms';

export function getSetting(ctx: LedgerContext, key: string): string | undefined {
  const row = ctx.db.prepare('SELECT value FROM settings WHERE key = ?').get(keySchema.parse(key)) as { value: string } | undefined;
  return row?.value;
}

export function setSetting(ctx: LedgerContext, key: string, value: string): void {
  const k = keySchema.parse(key);
  const v = z.string().max(65536).parse(value);
  // An unchanged value is not written again: each write is a commit, pages in the WAL and an
  // fsync on the SD card (the risk state is saved after every swipe, mostly unchanged).
  // updated_ms therefore says when the value last changed.
  if (getSetting(ctx, k) === v) return;
  ctx.db
    .prepare('INSERT INTO settings (key, value, updated_ms) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_ms = excluded.updated_ms')
    .run(k, v, Math.floor(ctx.clock.now()));
}

export function getNumberSetting(ctx: LedgerContext, key: string): number | undefined {
  const v = getSetting(ctx, key);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function setNumberSetting(ctx: LedgerContext, key: string, value: number): void {
  setSetting(ctx, key, String(z.number().finite().parse(value)));
}

/** Adds delta atomically and returns the new value (a missing key counts from 0). */
export function incrementSetting(ctx: LedgerContext, key: string, delta = 1): number {
  return inTx(ctx.db, () => {
    const next = (getNumberSetting(ctx, key) ?? 0) + z.number().finite().parse(delta);
    setNumberSetting(ctx, key, next);
    return next;
  });
}

/** The latest trustworthy wall time seen (ms); 0 when none yet. */
export function timeFloorMs(ctx: LedgerContext): number {
  return getNumberSetting(ctx, TIME_FLOOR) ?? 0;
}

/** Only ever moves forward: a clock that went back must not drag the floor with it. */
export function raiseTimeFloor(ctx: LedgerContext, ms: number): number {
  const candidate = Math.floor(z.number().finite().nonnegative().parse(ms));
  return inTx(ctx.db, () => {
    const cur = timeFloorMs(ctx);
    if (candidate > cur) setNumberSetting(ctx, TIME_FLOOR, candidate);
    return Math.max(cur, candidate);
  });
}

// Settings: typed values declared once with their schema, the free-form key-value store under
// them (counters, the engine's write probe), the time floor. Internal ledger counters live in
// `meta`, out of reach of these setters. Both kinds share the `settings` table, one row per key.
import { z } from 'zod';
import { inTx, type LedgerContext } from './context.js';

const keySchema = z.string().min(1).max(128);
const TIME_FLOOR = 'time_floor_ms';

/**
 * A setting whose value is JSON checked by its schema. Declared once, by the part that owns the
 * value (`export const RISK_STATE = defineSetting('risk.state', riskStateSchema)`), and read and
 * written only through it. The schema must give back what it takes (no transforms, no defaults):
 * what is stored is the value it returns.
 */
export interface SettingDef<T> {
  readonly key: string;
  readonly schema: z.ZodType<T, T>;
}

export function defineSetting<T>(key: string, schema: z.ZodType<T, T>): SettingDef<T> {
  return Object.freeze({ key: keySchema.parse(key), schema });
}

/** What a read found. `unreadable` is the caller's to judge (ignore, refuse, alert): it is never thrown. */
export type SettingValue<T> =
  | { readonly status: 'ok'; readonly value: T }
  | { readonly status: 'missing' }
  | { readonly status: 'unreadable'; readonly reason: 'not_json' | 'schema'; readonly detail: string };

/** The value, or undefined when it is missing or unreadable (a caller for which both mean "none yet"). */
export function settingOrUndefined<T>(v: SettingValue<T>): T | undefined {
  return v.status === 'ok' ? v.value : undefined;
}

export function readSetting<T>(ctx: LedgerContext, setting: SettingDef<T>): SettingValue<T> {
  const text = getSetting(ctx, setting.key);
  if (text === undefined) return { status: 'missing' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { status: 'unreadable', reason: 'not_json', detail: `setting ${setting.key} is not JSON` };
  }
  const parsed = setting.schema.safeParse(raw);
  if (!parsed.success) return { status: 'unreadable', reason: 'schema', detail: `setting ${setting.key} does not match its schema (${describe(parsed.error)})` };
  return { status: 'ok', value: parsed.data };
}

/** Schema-checked, then stored as JSON; an unchanged value is not written (setSetting). */
export function writeSetting<T>(ctx: LedgerContext, setting: SettingDef<T>, value: T): void {
  const parsed = setting.schema.safeParse(value);
  if (!parsed.success) throw new Error(`ledger: setting ${setting.key} refused: ${describe(parsed.error)}`);
  setSetting(ctx, setting.key, JSON.stringify(parsed.data));
}

/** A typed setting to store inside another step's transaction (the risk state with a capture). */
export interface SettingWrite<T> {
  setting: SettingDef<T>;
  value: T;
}

/**
 * Writes it in a savepoint of the open transaction: its refusal or failure is logged and
 * returns false, leaving the caller's writes to commit, unless SQLite rolled the whole
 * transaction back (disk full, I/O), which is thrown: then nothing is left to commit.
 */
export function writeSettingAlong<T>(ctx: LedgerContext, also: SettingWrite<T>): boolean {
  try {
    inTx(ctx.db, () => writeSetting(ctx, also.setting, also.value));
    return true;
  } catch (e) {
    if (!ctx.db.inTransaction) throw e;
    ctx.logger.error({ key: also.setting.key, err: e instanceof Error ? e.message : String(e) }, 'setting not stored with the step');
    return false;
  }
}

/** Issue count and the first one's path and message: enough to say why, never the value itself. */
function describe(e: z.ZodError): string {
  const first = e.issues[0];
  const where = first === undefined || first.path.length === 0 ? '' : `${first.path.map(String).join('.')}: `;
  return `${e.issues.length} issue${e.issues.length === 1 ? '' : 's'}${first === undefined ? '' : `, ${where}${first.message}`}`;
}

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

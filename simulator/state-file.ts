// The room's "EEPROM": one JSON file with every unit's non-volatile state. It is outside input
// (edited by hand, left by an older version, cut short by a crash), so it is parsed with zod; a
// unit whose entry does not parse starts from factory state, the others are kept.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../gateway/core/log.js';
import type { Lw485Json } from './lw485-commands.js';
import type { Rio8Json } from './rio8.js';

const u16 = z.number().int().min(0).max(0xffff);
const nonNeg = z.number().min(0);

const lw485Schema = z.object({
  kind: z.enum(['washer', 'dryer']),
  serial: z.number().int().min(0).max(0xffffffff),
  firmware: u16,
  state: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5), z.literal(6)]),
  activeProgram: u16,
  selectedProgram: u16,
  remainingMs: nonNeg,
  cycleTotalMs: nonNeg,
  doorClosed: z.boolean(),
  doorLocked: z.boolean(),
  faultCode: u16,
  faultFrom: z.enum(['idle', 'credited', 'cycle']).nullable(),
  faultConditionActive: z.boolean(),
  creditCents: u16,
  creditMinutes: u16,
  cyclePaidCents: z.number().int().min(0),
  lastSeq: u16,
  lastResult: u16,
  cycleCounter: z.number().int().min(0).max(0xffffffff),
  loadCell: z.boolean(),
  loadGrams: z.number().int().min(0),
  hardnessSensor: z.boolean(),
  hardnessDh10: u16,
  staged: z.array(u16).length(5),
  doneMs: nonNeg,
}) satisfies z.ZodType<Lw485Json>;

const coinMachineSchema = z.object({ coins: z.number().int().min(0), remainingMs: nonNeg, coinsLost: z.number().int().min(0), cycles: z.number().int().min(0) });
const rio8Schema = z.object({ machines: z.array(coinMachineSchema.nullable()).max(8) }) satisfies z.ZodType<Rio8Json>;

const entrySchema = z.discriminatedUnion('model', [
  z.object({ model: z.enum(['lw485-washer', 'lw485-dryer']), state: lw485Schema }),
  z.object({ model: z.literal('rio8'), state: rio8Schema }),
]);
export type StateEntry = z.output<typeof entrySchema>;

const fileSchema = z.object({ version: z.literal(1), units: z.record(z.string(), z.unknown()) });

export type StateFile = { version: 1; units: Record<string, StateEntry> };

export function readStateFile(path: string, logger: Logger): StateFile | null {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return null;
    logger.warn({ err, path }, 'state file unreadable, starting from factory state');
    return null;
  }
  const file = fileSchema.safeParse(raw);
  if (!file.success) {
    logger.warn({ path, issues: file.error.issues.length }, 'state file has an unknown format, starting from factory state');
    return null;
  }
  const units: Record<string, StateEntry> = {};
  for (const [unit, value] of Object.entries(file.data.units)) {
    const entry = entrySchema.safeParse(value);
    if (entry.success) units[unit] = entry.data;
    else logger.warn({ path, unit }, 'unit state in the state file does not parse, that unit starts from factory state');
  }
  return { version: 1, units };
}

/** Atomic replace: a power cut mid-write leaves the old file, never half a file. */
export function writeStateFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

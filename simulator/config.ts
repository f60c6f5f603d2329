// The simulated room's layout and the CLI's config file, validated with zod at the edge.
import { z } from 'zod';
import { LineFormatSchema } from '../protocols/modbus/timing.js';

export type SimUnitConfig =
  | { unit: number; model: 'lw485-washer' | 'lw485-dryer'; serial?: number; loadCell?: boolean; hardnessSensor?: boolean }
  | { unit: number; model: 'rio8'; channels: Array<{ coinCents: number; coinsPerCycle: number; cycleMinutes: number } | null>; pulseCounterStart?: number };

const unitAddress = z.number().int().min(1).max(247);

const lw485Unit = z.object({
  unit: unitAddress,
  model: z.enum(['lw485-washer', 'lw485-dryer']),
  serial: z.number().int().min(0).max(0xffffffff).optional(),
  loadCell: z.boolean().optional(),
  hardnessSensor: z.boolean().optional(),
});

const coinMachine = z.object({
  coinCents: z.number().int().min(1).max(10_000),
  coinsPerCycle: z.number().int().min(1).max(100),
  cycleMinutes: z.number().positive().max(600),
});

const rio8Unit = z.object({
  unit: unitAddress,
  model: z.literal('rio8'),
  channels: z.array(coinMachine.nullable()).max(8),
  pulseCounterStart: z.number().int().min(0).max(0xffff).optional(),
});

export const simUnitSchema = z.discriminatedUnion('model', [lw485Unit, rio8Unit]);

export const simUnitsSchema = z.array(simUnitSchema).superRefine((units, ctx) => {
  const seen = new Set<number>();
  units.forEach((u, i) => {
    if (seen.has(u.unit)) ctx.addIssue({ code: 'custom', path: [i, 'unit'], message: `unit ${u.unit} appears twice` });
    seen.add(u.unit);
  });
});

const lineSchema = LineFormatSchema.omit({ dataBits: true }).extend({ path: z.string().min(1) });

export const simConfigSchema = z
  .object({
    /** The unit list, or "demo" for demoRoomUnits(). */
    units: z.union([z.literal('demo'), simUnitsSchema]),
    timeScale: z.number().positive().max(100_000).default(1),
    statePath: z.string().min(1).optional(),
    replyDelayMs: z.number().min(0).max(5_000).default(5),
    tcp: z.array(z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535), framing: z.enum(['rtu', 'mbap']) })).default([]),
    serial: z.array(lineSchema).default([]),
    control: z.object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535) }).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict();

export type SimConfig = z.output<typeof simConfigSchema>;

/** The demo laundry room: 8 washers, 4 dryers, and a RIO-8 with 4 coin machines. */
export function demoRoomUnits(): SimUnitConfig[] {
  const units: SimUnitConfig[] = [];
  for (let unit = 1; unit <= 8; unit++) {
    units.push({ unit, model: 'lw485-washer', serial: 20_250_000 + unit, loadCell: unit % 2 === 0, hardnessSensor: unit <= 4 });
  }
  for (let unit = 9; unit <= 12; unit++) units.push({ unit, model: 'lw485-dryer', serial: 20_251_000 + unit, loadCell: unit === 9 });
  units.push({
    unit: 20,
    model: 'rio8',
    channels: [
      { coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 },
      { coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 },
      { coinCents: 50, coinsPerCycle: 4, cycleMinutes: 25 },
      { coinCents: 50, coinsPerCycle: 4, cycleMinutes: 25 },
      null,
      null,
      null,
      null,
    ],
  });
  return units;
}

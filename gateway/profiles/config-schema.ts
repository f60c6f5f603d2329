// The part of the daemon's config file that says which devices sit on a bus and which machines
// they drive. Parsed with zod at the edge: nothing reaches the poller or the bus unless the whole
// room is consistent (unique unit ids per bus, unique machine ids across the room, channels 0-7
// used once per module).
import { z } from 'zod';

/** The id used everywhere for a machine: MQTT topics, the ledger, the status page, the CLI. */
export const machineIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/, 'a machine id is 1-32 letters, digits, "_" or "-", starting with a letter or digit');

export const unitIdSchema = z.int().min(1, 'unit ids are 1-247 (0 is broadcast)').max(247, 'unit ids are 1-247');

export const machineKindSchema = z.enum(['washer', 'dryer']);

export const lw485UnitSchema = z.strictObject({
  unit: unitIdSchema,
  profile: z.literal('lw485'),
  machineId: machineIdSchema,
  name: z.string().min(1).max(64).optional(),
  /**
   * Optional: what the operator expects behind this address. Checked against the model register
   * at discovery, and lets the status page list the machine as offline before it ever answered.
   */
  kind: machineKindSchema.optional(),
});

/** JSON object keys are strings: program numbers 1-16 as "1".."16". */
const programKeySchema = z.string().regex(/^(?:[1-9]|1[0-6])$/, 'program numbers are 1-16');

export const rio8ChannelSchema = z.strictObject({
  channel: z.int().min(0, 'RIO-8 channels are 0-7').max(7, 'RIO-8 channels are 0-7'),
  machineId: machineIdSchema,
  name: z.string().min(1).max(64).optional(),
  kind: machineKindSchema,
  /** Value of one coin the machine's acceptor is set to, integer cents. */
  coinCents: z.int().min(1).max(100_000),
  /** Program number → coins that buy it. The module accepts 1-50 pulses per write. */
  coinsPerProgram: z
    .record(programKeySchema, z.int().min(1, 'at least one coin').max(50, 'the RIO-8 sends at most 50 pulses per write'))
    .refine((m) => Object.keys(m).length > 0, 'at least one program'),
  /** For display only: the RIO-8 cannot read remaining time. */
  cycleMinutes: z.int().min(1).max(600),
});

export const rio8UnitSchema = z.strictObject({
  unit: unitIdSchema,
  profile: z.literal('rio8'),
  channels: z.array(rio8ChannelSchema).min(1).max(8),
});

/** A CM-1 credit meter: one machine per unit, a credit proven by its credit counter (meter.ts). */
export const meterUnitSchema = z.strictObject({
  unit: unitIdSchema,
  profile: z.literal('meter'),
  machineId: machineIdSchema,
  name: z.string().min(1).max(64).optional(),
  kind: machineKindSchema,
  /** The one program's length, for display and the program table: the meter cannot read time left. */
  cycleMinutes: z.int().min(1).max(600),
});

export const unitConfigSchema = z.discriminatedUnion('profile', [lw485UnitSchema, rio8UnitSchema, meterUnitSchema]);

export type Lw485UnitConfig = z.infer<typeof lw485UnitSchema>;
export type Rio8ChannelConfig = z.infer<typeof rio8ChannelSchema>;
export type Rio8UnitConfig = z.infer<typeof rio8UnitSchema>;
export type MeterUnitConfig = z.infer<typeof meterUnitSchema>;
export type UnitConfig = z.infer<typeof unitConfigSchema>;
export type ProfileId = UnitConfig['profile'];
export type MachineKindConfig = z.infer<typeof machineKindSchema>;

/** A machine as the config names it: what the status page and Home Assistant know before discovery. */
export interface ConfiguredMachine {
  machineId: string;
  name: string | null;
  /** null when only discovery can tell (an LW-485 configured without a kind). */
  kind: z.infer<typeof machineKindSchema> | null;
  /** The cycle length the operator configured, for a device that cannot read the time left; else null. */
  cycleMinutes: number | null;
  /** Where its id is in the unit's config, for error messages. */
  path: (string | number)[];
}

/** Every machine a unit drives, in config order. */
export function configuredMachines(u: UnitConfig): ConfiguredMachine[] {
  switch (u.profile) {
    case 'lw485':
      return [{ machineId: u.machineId, name: u.name ?? null, kind: u.kind ?? null, cycleMinutes: null, path: ['machineId'] }];
    case 'rio8':
      return u.channels.map((c, ci) => ({ machineId: c.machineId, name: c.name ?? null, kind: c.kind, cycleMinutes: c.cycleMinutes, path: ['channels', ci, 'machineId'] }));
    case 'meter':
      return [{ machineId: u.machineId, name: u.name ?? null, kind: u.kind, cycleMinutes: u.cycleMinutes, path: ['machineId'] }];
  }
}

/** Every machine id a unit drives, in config order. */
export function unitMachineIds(u: UnitConfig): string[] {
  return configuredMachines(u).map((m) => m.machineId);
}

type IssueSink = { addIssue(issue: { code: 'custom'; message: string; path: (string | number)[] }): void };

/**
 * Reports machine ids used on more than one bus (each a list of units). The integrator calls it
 * from the superRefine of the whole config, with the path prefix of each bus's unit list.
 * Duplicates within one bus are `busUnitsSchema`'s to report, so nothing is reported twice.
 */
export function checkUniqueMachineIds(buses: readonly { path: (string | number)[]; units: readonly UnitConfig[] }[], ctx: IssueSink): void {
  reportDuplicateIds(buses, ctx, false);
}

function reportDuplicateIds(buses: readonly { path: (string | number)[]; units: readonly UnitConfig[] }[], ctx: IssueSink, withinBus: boolean): void {
  const seen = new Map<string, { bus: number; at: string }>();
  buses.forEach((bus, bi) => {
    bus.units.forEach((u, ui) => {
      configuredMachines(u).forEach(({ machineId: id, path: at }) => {
        const path = [...bus.path, ui, ...at];
        const first = seen.get(id);
        if (first === undefined) seen.set(id, { bus: bi, at: path.join('.') });
        else if (withinBus || first.bus !== bi) ctx.addIssue({ code: 'custom', message: `machine id "${id}" is already used at ${first.at}`, path });
      });
    });
  });
}

/** The units on one bus: unique unit ids, unique machine ids, each RIO-8 channel once. */
export const busUnitsSchema = z.array(unitConfigSchema).superRefine((units, ctx) => {
  const unitAt = new Map<number, number>();
  units.forEach((u, i) => {
    const prev = unitAt.get(u.unit);
    if (prev !== undefined) ctx.addIssue({ code: 'custom', message: `unit ${u.unit} is already used by entry [${prev}] on this bus`, path: [i, 'unit'] });
    else unitAt.set(u.unit, i);
    if (u.profile === 'rio8') {
      const chAt = new Map<number, number>();
      u.channels.forEach((c, ci) => {
        const p = chAt.get(c.channel);
        if (p !== undefined) ctx.addIssue({ code: 'custom', message: `channel ${c.channel} is already used by channels[${p}] of this module`, path: [i, 'channels', ci, 'channel'] });
        else chAt.set(c.channel, ci);
      });
    }
  });
  reportDuplicateIds([{ path: [], units }], ctx, true);
});

/**
 * A whole room: several buses, each with its units. The integrator may embed `busUnitsSchema` in
 * its own bus schema instead and call `checkUniqueMachineIds` itself; this is the reference shape.
 */
export const roomUnitsSchema = z
  .array(z.strictObject({ busId: z.string().min(1), units: busUnitsSchema }))
  .superRefine((buses, ctx) => {
    const ids = new Map<string, number>();
    buses.forEach((b, i) => {
      const prev = ids.get(b.busId);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', message: `bus id "${b.busId}" is already used by entry [${prev}]`, path: [i, 'busId'] });
      else ids.set(b.busId, i);
    });
    checkUniqueMachineIds(buses.map((b, i) => ({ path: [i, 'units'], units: b.units })), ctx);
  });

export type BusUnitsConfig = z.infer<typeof busUnitsSchema>;
export type RoomUnitsConfig = z.infer<typeof roomUnitsSchema>;

// The LW-485 factory program tables (interface sheet rev 1.3, "Factory programs") and the phase
// plan the simulated controller reports while a cycle runs. Kept apart from the state machine so
// the tables can be read against the datasheet at a glance.

export type Lw485Kind = 'washer' | 'dryer';

export interface Lw485Program {
  /** Washers: cycle minutes. Dryers: minutes per credit step. */
  durationMin: number;
  /** Washers: °C, 0 = cold. Dryers: 1 low, 2 medium, 3 high, 0 no heat. */
  temperature: number;
  /** rpm ÷ 10; dryers 0. */
  spin: number;
  listPriceCents: number;
  /** Exactly 8 ASCII characters, space padded. */
  name: string;
}

function p(durationMin: number, temperature: number, spin: number, listPriceCents: number, name: string): Lw485Program {
  return { durationMin, temperature, spin, listPriceCents, name: name.padEnd(8, ' ').slice(0, 8) };
}

export const WASHER_PROGRAMS: readonly Lw485Program[] = [
  p(30, 30, 100, 250, 'QUICK'),
  p(45, 40, 120, 350, 'NORMAL'),
  p(60, 60, 120, 450, 'HOT'),
  p(75, 40, 140, 500, 'HEAVY'),
  p(40, 30, 60, 350, 'DELICATE'),
  p(20, 0, 100, 150, 'RINSE'),
];

export const DRYER_PROGRAMS: readonly Lw485Program[] = [
  p(10, 1, 0, 100, 'LOW'),
  p(10, 2, 0, 100, 'MEDIUM'),
  p(10, 3, 0, 100, 'HIGH'),
  p(10, 0, 0, 100, 'NOHEAT'),
];

export const MODEL_CODE: Readonly<Record<Lw485Kind, number>> = { washer: 0x5701, dryer: 0x4401 };
/** Tenths of a kilogram. */
export const CAPACITY: Readonly<Record<Lw485Kind, number>> = { washer: 80, dryer: 100 };

export function programsFor(kind: Lw485Kind): readonly Lw485Program[] {
  return kind === 'washer' ? WASHER_PROGRAMS : DRYER_PROGRAMS;
}

/** The 8 registers of one program-table entry (512 + 8 × (p − 1)). */
export function programRegisters(prog: Lw485Program): number[] {
  const regs = [prog.durationMin, prog.temperature, prog.spin, prog.listPriceCents];
  for (let i = 0; i < 8; i += 2) regs.push((prog.name.charCodeAt(i) << 8) | prog.name.charCodeAt(i + 1));
  return regs;
}

export const Phase = {
  None: 0,
  Fill: 1,
  Wash: 2,
  Rinse: 3,
  Spin: 4,
  Drain: 5,
  Heat: 11,
  CoolDown: 12,
  AntiCrease: 13,
} as const;

/** Dryers cool down for the last 3 minutes of every cycle, whatever was bought. */
export const DRYER_COOL_DOWN_MS = 3 * 60_000;
/** Dryers tumble now and then for 10 minutes after DONE while the door stays shut. */
export const DRYER_ANTI_CREASE_MS = 10 * 60_000;

/**
 * Phase of a running (or paused/faulted, frozen) cycle. Washers walk a fixed plan by the share
 * of the cycle elapsed; a RINSE program skips the wash. The spec names the phases but not their
 * lengths, so these shares are ours.
 */
export function cyclePhase(kind: Lw485Kind, program: number, prog: Lw485Program | undefined, remainingMs: number, totalMs: number): number {
  if (kind === 'dryer') {
    if (!prog || prog.temperature === 0) return Phase.CoolDown;
    return remainingMs > DRYER_COOL_DOWN_MS ? Phase.Heat : Phase.CoolDown;
  }
  const f = totalMs > 0 ? 1 - remainingMs / totalMs : 0;
  const plan: Array<[number, number]> =
    program === 6
      ? [[0.15, Phase.Fill], [0.7, Phase.Rinse], [0.75, Phase.Drain], [1, Phase.Spin]]
      : [[0.1, Phase.Fill], [0.5, Phase.Wash], [0.55, Phase.Drain], [0.8, Phase.Rinse], [1, Phase.Spin]];
  for (const [until, phase] of plan) if (f < until) return phase;
  return Phase.Spin;
}

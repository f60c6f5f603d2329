// RIO-8 relay module as a coin-pulse retrofit (vendor sheet rev 2.0): register map, pure
// decoders and the arithmetic of its wrapping pulse counter. No I/O.
import type { MachineCapabilities, MachineState, ProgramInfo } from '../machines/state.js';
import type { Rio8ChannelConfig } from './config-schema.js';
import { CREDIT_ONLY_CAPABILITIES, ProfileError, blankState, type CommandEvidence, type ReadBlock, type ReconcileResult } from './types.js';

export const RIO8 = {
  moduleType: 0x5208,
  channels: 8,
  identityBlock: { fc: 3, address: 0, quantity: 2, label: 'rio8 type/firmware 0-1' } satisfies ReadBlock,
  pulseTimeBlock: { fc: 3, address: 32, quantity: 2, label: 'rio8 pulse on/off 32-33' } satisfies ReadBlock,
  inUseBlock: { fc: 2, address: 0, quantity: 8, label: 'rio8 in-use inputs 0-7' } satisfies ReadBlock,
  pendingBlock: { fc: 3, address: 16, quantity: 8, label: 'rio8 pending pulses 16-23' } satisfies ReadBlock,
  counterBlock: { fc: 3, address: 48, quantity: 8, label: 'rio8 pulse counters 48-55' } satisfies ReadBlock,
  trainAddress: 16,
  counterAddress: 48,
  maxCoinsPerWrite: 50,
  counterModulo: 65536,
} as const;

export const RIO8_POLL_BLOCKS: readonly ReadBlock[] = [RIO8.inUseBlock, RIO8.pendingBlock, RIO8.counterBlock];

export const RIO8_CAPABILITIES: MachineCapabilities = CREDIT_ONLY_CAPABILITIES;

export function checkModuleType(reg: number): void {
  if (reg !== RIO8.moduleType) {
    throw new ProfileError(`module type register is 0x${reg.toString(16).padStart(4, '0')}, not a RIO-8 (0x5208); check the unit address and the configured profile`);
  }
}

/** Pulses the module sent between two counter readings, across the 65536 wrap. */
export function counterDelta(before: number, now: number): number {
  return (((now - before) % RIO8.counterModulo) + RIO8.counterModulo) % RIO8.counterModulo;
}

/** The programs a coin machine offers, as the config prices them. */
export function channelPrograms(ch: Rio8ChannelConfig): ProgramInfo[] {
  return Object.entries(ch.coinsPerProgram)
    .map(([p, coins]) => ({
      program: Number(p),
      name: `${coins} × ${ch.coinCents}¢`,
      durationMin: ch.cycleMinutes,
      temperatureC: null,
      maxSpinRpm: null,
      listPriceCents: coins * ch.coinCents,
    }))
    .sort((a, b) => a.program - b.program);
}

export interface Rio8Readings {
  inUse: readonly boolean[];
  pending: readonly number[];
  counters: readonly number[];
}

/** The device facts a RIO-8 channel's state carries for its proof (rio8-receipt.ts). */
export interface Rio8Facts {
  pulseCounter: number;
  pendingPulses: number;
}

/** One MachineState per configured channel; everything the module cannot know is null. */
export function decodeRio8(channels: readonly Rio8ChannelConfig[], r: Rio8Readings, observedAt: number): (MachineState & { confirm: Rio8Facts })[] {
  if (r.inUse.length < 8 || r.pending.length !== 8 || r.counters.length !== 8) throw new ProfileError('rio8 poll needs 8 inputs, 8 pending and 8 counter registers');
  // Everything but running/idle and the counters is beyond what a coin retrofit can know.
  return channels.map((ch) => ({
    ...blankState(ch.machineId, ch.kind, observedAt),
    status: r.inUse[ch.channel] === true ? 'running' : 'idle',
    confirm: { pulseCounter: r.counters[ch.channel] ?? 0, pendingPulses: r.pending[ch.channel] ?? 0 },
  }));
}

/** How long to wait for a whole train: the module times it, we allow slack on top. */
export function trainDeadlineMs(coins: number, onMs: number, offMs: number, factor: number, marginMs: number): number {
  return Math.ceil(coins * (onMs + offMs) * factor) + marginMs;
}

/**
 * At start-up, for a credit whose outcome was never recorded: did the train go out? The counter
 * is the only proof. `pendingNow` (register 16+n), when known, recognises a train still running.
 * A counter behind where our train could have left it (moved by more than the coins, nothing
 * running) restarted: it counts since power-up, so the module lost power (a power cut of the
 * room) and with it the count of our train and the rest of that train. If the machine now runs
 * (`inUseNow`), it was idle when the coins were sent (admission checks that) and has started a
 * cycle since, so it had its coins: `executed-accepted`. Otherwise how many coins reached it
 * cannot be known; the customer gets the money back (`not-executed`). Either way the vend engine
 * raises an alert. Partly moved with nothing running is for a person to judge.
 */
export function reconcileRio8(evidence: CommandEvidence, counterNow: number | null, pendingNow?: number, inUseNow?: boolean): ReconcileResult {
  if (evidence.profile !== 'rio8' || counterNow === null) return 'unknown';
  const delta = counterDelta(evidence.counterBefore, counterNow);
  const pending = pendingNow ?? 0;
  if (delta === 0 && pending === 0) return 'not-executed';
  if (delta === evidence.coins || delta + pending === evidence.coins) return 'executed-accepted';
  if (rio8CounterRestarted(evidence, counterNow, pending)) return inUseNow === true ? 'executed-accepted' : 'not-executed';
  return 'unknown';
}

/** The pulse counter went back since `evidence` was taken: the module restarted (see reconcileRio8). */
export function rio8CounterRestarted(evidence: CommandEvidence, counterNow: number, pendingNow: number): boolean {
  return evidence.profile === 'rio8' && pendingNow === 0 && counterDelta(evidence.counterBefore, counterNow) > evidence.coins;
}

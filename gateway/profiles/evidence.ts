// Command evidence as the vend record stores it, and the one reconcile entry point the vend
// engine calls at start-up with a fresh read-back, whatever profile the machine has.
import { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import { reconcileLw485 } from './lw485-codec.js';
import { reconcileRio8 } from './rio8-codec.js';
import type { CommandEvidence, ReconcileResult } from './types.js';

const u16 = z.int().min(0).max(65535);

/** Parses evidence read back from storage (JSON): stored data is outside input too. */
export const commandEvidenceSchema = z.discriminatedUnion('profile', [
  z.strictObject({ profile: z.literal('lw485'), unit: z.int().min(1).max(247), seq: z.int().min(1).max(65535), code: u16 }),
  z.strictObject({ profile: z.literal('rio8'), unit: z.int().min(1).max(247), channel: z.int().min(0).max(7), counterBefore: u16, coins: z.int().min(1).max(50) }),
]) satisfies z.ZodType<CommandEvidence>;

/**
 * Did the command behind `evidence` run? `state` is a fresh read of its machine (Poller.readNow),
 * null when the unit could not be read. Only meaningful before anything else commands the unit.
 */
export function reconcileFromState(evidence: CommandEvidence, state: MachineState | null): ReconcileResult {
  if (state === null || state.status === 'offline') return 'unknown';
  const c = state.confirm;
  if (evidence.profile === 'lw485') {
    const { lastSeq, lastResult } = c;
    return lastSeq === undefined || lastResult === undefined ? 'unknown' : reconcileLw485(evidence, { lastSeq, lastResult });
  }
  const counter = c.pulseCounter;
  return counter === undefined ? 'unknown' : reconcileRio8(evidence, counter, c.pendingPulses, state.status === 'running');
}

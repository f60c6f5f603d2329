// The RIO-8's proof of a credit: the channel's pulse counter (it counts every pulse since
// power-up) against the count stored before the train, with the pulses still pending telling a
// train that is running from one that never left. Pure.
import { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import { reconcileRio8, rio8CounterRestarted } from './rio8-codec.js';
import { proofOf, type CommandReceipt, type CreditReading, type ProfileProof, type ReceiptAlert, type ReconcileStep } from './receipt.js';
import type { CommandEvidence, ReconcileResult } from './types.js';

type Rio8Evidence = Extract<CommandEvidence, { profile: 'rio8' }>;

const u16 = z.int().min(0).max(65535);

export const rio8EvidenceSchema = z.strictObject({ profile: z.literal('rio8'), unit: z.int().min(1).max(247), channel: z.int().min(0).max(7), counterBefore: u16, coins: z.int().min(1).max(50) });

/** The facts decodeRio8 puts in MachineState.confirm, exactly: a channel's counter and pending pulses. */
export const rio8FactsSchema = z.strictObject({ pulseCounter: u16, pendingPulses: u16 });

/** A train is bounded (coins x pulse period): a reconcile looks again this often until it ends. */
const TRAIN_LOOK_AGAIN_MS = 100;

function facts(state: MachineState): { pulseCounter: number; pendingPulses: number } | null {
  const r = rio8FactsSchema.safeParse(state.confirm);
  return r.success ? r.data : null;
}

function pendingOf(state: MachineState): number {
  return facts(state)?.pendingPulses ?? 0;
}

export function rio8Receipt(evidence: Rio8Evidence): CommandReceipt {
  const verdict = (state: MachineState | null): ReconcileResult => {
    if (state === null || state.status === 'offline') return 'unknown';
    const f = facts(state);
    return f === null ? 'unknown' : reconcileRio8(evidence, f.pulseCounter, f.pendingPulses, state.status === 'running');
  };
  const restartAlert = (state: MachineState, v: ReconcileResult): ReceiptAlert | null => {
    const f = facts(state);
    if (f === null || !rio8CounterRestarted(evidence, f.pulseCounter, f.pendingPulses)) return null;
    // Settled by the in-use input alone (reconcileRio8): the operator should look at the machine.
    const settled = v === 'executed-accepted' ? 'captured: the machine runs' : 'refunded: the machine may hold some of its coins';
    return {
      code: 'rio8_counter_restarted',
      message: `the RIO-8 restarted (power cut?) during a coin train; the vend is ${settled}`,
      log: { counterBefore: evidence.counterBefore, counterNow: f.pulseCounter, verdict: v },
      logMessage: 'RIO-8 pulse counter restarted under an unsettled vend',
    };
  };
  return {
    // Writing a train sets its pending pulses at once: a counter that has not moved with nothing pending never will.
    resultWithinMs: 0,
    verdict,
    // The module refuses a second train while one runs, though the channel shows idle.
    admitsNewVend: (state) => pendingOf(state) === 0,
    readback(state: MachineState): CreditReading {
      // A train still running (pulses pending, counter not yet advanced by all coins) is
      // 'pending', not 'unknown': the module times the pulses itself.
      const pending = pendingOf(state);
      const v = verdict(state);
      if (v === 'executed-accepted') return pending > 0 ? { verdict: 'pending' } : { verdict: 'confirmed' };
      if (v === 'not-executed') return { verdict: 'not-executed' };
      return pending > 0 ? { verdict: 'pending' } : { verdict: 'unknown', detail: 'pulse counter does not match the coins sent' };
    },
    reconcile(state: MachineState): ReconcileStep {
      const v = verdict(state);
      // Mid-train the pending and counter registers are read one after the other and can disagree
      // by a pulse: look again until the train is over rather than leave the machine blocked.
      const running = pendingOf(state) > 0;
      return { verdict: v, reason: 'credit_rejected', lookAgainMs: v === 'unknown' && running ? TRAIN_LOOK_AGAIN_MS : null, alert: restartAlert(state, v) };
    },
  };
}

export const rio8Proof: ProfileProof = proofOf('rio8', rio8EvidenceSchema, rio8Receipt, (facts) => {
  const f = rio8FactsSchema.safeParse(facts);
  return !f.success || f.data.pendingPulses === 0;
});

// The LW-485's proof of a command: inputs 24-25 (last seq, last result) name the last command the
// controller executed and how it ended. A stored seq is compared with them; pure.
import { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import { mapResult, reconcileLw485 } from './lw485-codec.js';
import { proofOf, readingOf, type CommandReceipt, type CreditReading, type ProfileProof, type ReconcileStep } from './receipt.js';
import type { CommandEvidence, ReconcileResult } from './types.js';

type Lw485Evidence = Extract<CommandEvidence, { profile: 'lw485' }>;

const u16 = z.int().min(0).max(65535);

/**
 * The datasheet promises a result within 200 ms of the write; a controller busy writing its
 * EEPROM may take longer. After a crash the cost of waiting longer is a couple of seconds once;
 * the cost of refunding a credit the controller then executes is a free cycle (docs/device-profiles.md).
 */
export const LW485_RESULT_WITHIN_MS = 2000;

export const lw485EvidenceSchema = z.strictObject({ profile: z.literal('lw485'), unit: z.int().min(1).max(247), seq: z.int().min(1).max(65535), code: u16 });

/** The facts toMachineState puts in MachineState.confirm that the proof reads. */
export const lw485FactsSchema = z.object({ lastSeq: u16, lastResult: u16 });

function facts(state: MachineState | null): { lastSeq: number; lastResult: number } | null {
  if (state === null || state.status === 'offline') return null;
  const r = lw485FactsSchema.safeParse(state.confirm);
  return r.success ? r.data : null;
}

export function lw485Receipt(evidence: Lw485Evidence): CommandReceipt {
  const verdict = (state: MachineState | null): ReconcileResult => {
    const f = facts(state);
    return f === null ? 'unknown' : reconcileLw485(evidence, f);
  };
  return {
    resultWithinMs: LW485_RESULT_WITHIN_MS,
    verdict,
    // One command at a time per controller: once it answered, nothing of it holds the machine.
    admitsNewVend: () => true,
    readback(state: MachineState): CreditReading {
      const v = verdict(state);
      // Read right after the write: the LW-485 shows the result within 200 ms, so ask again.
      if (v === 'not-executed') return { verdict: 'pending' };
      return readingOf(v, 'the machine did not report its last command');
    },
    reconcile(state: MachineState): ReconcileStep {
      return { verdict: verdict(state), reason: rejectionReason(state), lookAgainMs: null, alert: null };
    },
  };
}

/** Why an executed command was rejected, from the controller's result code. */
function rejectionReason(state: MachineState): string {
  const f = facts(state);
  if (f === null) return 'credit_rejected';
  const m = mapResult(f.lastResult);
  return m.status === 'rejected' ? m.reason : 'credit_rejected';
}

export const lw485Proof: ProfileProof = proofOf('lw485', lw485EvidenceSchema, lw485Receipt, () => true);

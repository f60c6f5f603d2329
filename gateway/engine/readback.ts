// Turns a fresh read of a machine into the vend state machine's read-back or reconcile verdict,
// through the device profile's own reconcile function: only the device's word decides whether a
// credit executed.
import { mapResult } from '../profiles/lw485-codec.js';
import { commandEvidenceSchema, reconcileFromState } from '../profiles/evidence.js';
import type { CommandEvidence } from '../profiles/types.js';
import type { MachineState } from '../machines/state.js';
import type { ReadbackResult } from '../vend/vend-machine.js';

export { reconcileFromState };

/** Evidence comes back from the ledger as JSON: parse it (the profiles' schema) before trusting its shape. */
export function parseEvidence(raw: unknown): CommandEvidence | null {
  const r = commandEvidenceSchema.safeParse(raw);
  return r.success ? r.data : null;
}

/**
 * A read-back right after the command. A RIO-8 train still running (pulses pending, counter not
 * yet advanced by all coins) is 'pending', not 'unknown': the module times the pulses itself.
 */
export function readbackFromState(evidence: CommandEvidence, state: MachineState): ReadbackResult {
  if (evidence.profile === 'rio8') {
    const pending = state.confirm.pendingPulses ?? 0;
    const verdict = reconcileFromState(evidence, state);
    if (verdict === 'executed-accepted') return pending > 0 ? { verdict: 'pending' } : { verdict: 'confirmed' };
    if (verdict === 'not-executed') return { verdict: 'not-executed' };
    return pending > 0 ? { verdict: 'pending' } : { verdict: 'unknown', detail: 'pulse counter does not match the coins sent' };
  }
  const verdict = reconcileFromState(evidence, state);
  switch (verdict) {
    case 'executed-accepted':
      return { verdict: 'confirmed' };
    case 'executed-rejected':
      return { verdict: 'rejected', reason: 'credit_rejected' };
    case 'not-executed':
      // Read right after the write: the LW-485 shows the result within 200 ms, so ask again.
      return { verdict: 'pending' };
    case 'unknown':
      return { verdict: 'unknown', detail: 'the machine did not report its last command' };
  }
}

/** Why an executed credit was rejected, in the profile's words (for reasonForRejection), from a fresh state. */
export function rejectionFromState(evidence: CommandEvidence, state: MachineState): string {
  const code = state.confirm.lastResult;
  if (evidence.profile !== 'lw485' || code === undefined) return 'credit_rejected';
  const m = mapResult(code);
  return m.status === 'rejected' ? m.reason : 'credit_rejected';
}

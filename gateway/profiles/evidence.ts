// Command evidence as the vend record stores it, and the one way in for whoever settles a command:
// the evidence's own profile turns it into a receipt (receipt.ts). Each profile recognises its own
// evidence and its own device facts; nothing here knows what they mean.
import { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import { lw485EvidenceSchema, lw485Proof } from './lw485-receipt.js';
import type { CommandReceipt, ProfileProof } from './receipt.js';
import { meterEvidenceSchema, meterProof } from './meter-receipt.js';
import { rio8EvidenceSchema, rio8Proof } from './rio8-receipt.js';
import type { CommandEvidence, ReconcileResult } from './types.js';

/** Every profile's proof: a new device model adds its own here (and its case in registry.ts). */
const PROOFS: readonly ProfileProof[] = [lw485Proof, rio8Proof, meterProof];

/** Parses evidence read back from storage (JSON): stored data is outside input too. */
export const commandEvidenceSchema = z.discriminatedUnion('profile', [lw485EvidenceSchema, rio8EvidenceSchema, meterEvidenceSchema]) satisfies z.ZodType<CommandEvidence>;

/** The receipt of a stored command, or null when no profile recognises the evidence. */
export function receiptFor(raw: unknown): CommandReceipt | null {
  for (const p of PROOFS) {
    const r = p.receiptFor(raw);
    if (r !== null) return r;
  }
  return null;
}

/** Whether a machine's device facts let it take a new vend, whatever came before; every profile is asked about its own facts. */
export function admitsNewVend(state: MachineState): boolean {
  return PROOFS.every((p) => p.admitsNewVend(state.confirm));
}

/**
 * Did the command behind `evidence` run? `state` is a fresh read of its machine (Poller.readNow),
 * null when the unit could not be read. Only meaningful before anything else commands the unit.
 */
export function reconcileFromState(evidence: CommandEvidence, state: MachineState | null): ReconcileResult {
  return receiptFor(evidence)?.verdict(state) ?? 'unknown';
}

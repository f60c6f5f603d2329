// The CM-1's proof of a credit: its credit counter moved by exactly one since the count stored
// before the write. It shows the credit at once (the write's reply comes after it started), so
// there is nothing pending to wait for. Pure.
import { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import { creditsBetween } from './meter-codec.js';
import { proofOf, readingOf, type CommandReceipt, type ProfileProof } from './receipt.js';
import type { CommandEvidence, ReconcileResult } from './types.js';

type MeterEvidence = Extract<CommandEvidence, { profile: 'meter' }>;

export const meterEvidenceSchema = z.strictObject({ profile: z.literal('meter'), unit: z.int().min(1).max(247), counterBefore: z.int().min(0).max(65535) });

export const meterFactsSchema = z.strictObject({ creditCounter: z.int().min(0).max(65535) });

export function meterReceipt(evidence: MeterEvidence): CommandReceipt {
  const verdict = (state: MachineState | null): ReconcileResult => {
    if (state === null || state.status === 'offline') return 'unknown';
    const f = meterFactsSchema.safeParse(state.confirm);
    if (!f.success) return 'unknown';
    const moved = creditsBetween(evidence.counterBefore, f.data.creditCounter);
    // More than one: something else credited the machine since; a person must judge.
    return moved === 0 ? 'not-executed' : moved === 1 ? 'executed-accepted' : 'unknown';
  };
  return {
    resultWithinMs: 0,
    verdict,
    admitsNewVend: () => true,
    readback: (state) => readingOf(verdict(state), 'the credit counter moved by more than one credit'),
    reconcile: (state) => ({ verdict: verdict(state), reason: 'credit_rejected', lookAgainMs: null, alert: null }),
  };
}

export const meterProof: ProfileProof = proofOf('meter', meterEvidenceSchema, meterReceipt, () => true);

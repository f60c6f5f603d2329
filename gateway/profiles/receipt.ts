// The proof of a command belongs to the profile that sent it (as a zwave-js message recognises its
// own response): stored command evidence becomes a receipt, and the receipt answers from a machine
// state whether the command ran. The vend engine asks receipts and never reads device facts itself.
import type { z } from 'zod';
import type { MachineState } from '../machines/state.js';
import type { ReconcileResult } from './types.js';

/** What a read-back right after the command shows (the vend machine's ReadbackResult). */
export type CreditReading =
  /** The machine shows this credit. */
  | { verdict: 'confirmed' }
  /** The device answered; the command has not shown its result yet. Ask again. */
  | { verdict: 'pending' }
  /** The device answered; the command did not and will not execute. */
  | { verdict: 'not-executed' }
  /** The command executed and was rejected. */
  | { verdict: 'rejected'; reason?: string }
  /** No usable answer. */
  | { verdict: 'unknown'; detail: string };

/** Something the operator should look at, filed with the vend it concerns. */
export interface ReceiptAlert {
  code: string;
  message: string;
  /** Facts for the log line (no card, token or key). */
  log: Record<string, unknown>;
  logMessage: string;
}

/** One look of a reconcile at a fresh state. */
export interface ReconcileStep {
  verdict: ReconcileResult;
  /** Why an executed credit was rejected, in the profile's words (reasonForRejection maps it). */
  reason: string;
  /** Read again after this many ms before settling (a coin train still running); null: settle now. */
  lookAgainMs: number | null;
  /** Settled on weaker proof than usual: the operator should look at the machine. */
  alert: ReceiptAlert | null;
}

export interface CommandReceipt {
  /**
   * How long after its write the command may still show its result. A reconcile takes
   * 'not-executed' as proof only from a read that began at least this long after the last write
   * could have happened; earlier, the command may simply not have shown yet.
   */
  readonly resultWithinMs: number;
  /** Did the command run? `state` is a fresh read of its machine, null when it could not be read. */
  verdict(state: MachineState | null): ReconcileResult;
  /** (a) Whether, as far as this command goes, the machine in `state` takes a new vend. */
  admitsNewVend(state: MachineState): boolean;
  /** (b) A read-back right after the command was answered. */
  readback(state: MachineState): CreditReading;
  /** (c) A reconcile's look: verdict, when to look again, alert. */
  reconcile(state: MachineState): ReconcileStep;
}

/** What a device profile contributes to the proof of its commands: registered in evidence.ts. */
export interface ProfileProof {
  readonly profile: string;
  /** The receipt of stored evidence (JSON read back from storage: outside input too), or null when it is not this profile's. */
  receiptFor(raw: unknown): CommandReceipt | null;
  /**
   * Whether a machine whose polled state carries these device facts takes a new vend, whatever
   * command came before (a RIO-8 channel still pulsing shows idle yet refuses a train). Facts
   * that are not this profile's are not its business: true.
   */
  admitsNewVend(facts: unknown): boolean;
}

/** A proof from an evidence schema and a receipt maker: the profile recognises its own evidence. */
export function proofOf<E>(profile: string, evidenceSchema: z.ZodType<E>, receipt: (evidence: E) => CommandReceipt, admitsNewVend: (facts: unknown) => boolean): ProfileProof {
  return {
    profile,
    receiptFor(raw) {
      const r = evidenceSchema.safeParse(raw);
      return r.success ? receipt(r.data) : null;
    },
    admitsNewVend,
  };
}

/** The usual mapping of a plain verdict onto a read-back, for profiles without a pending phase. */
export function readingOf(verdict: ReconcileResult, unknownDetail: string): CreditReading {
  switch (verdict) {
    case 'executed-accepted':
      return { verdict: 'confirmed' };
    case 'executed-rejected':
      return { verdict: 'rejected', reason: 'credit_rejected' };
    case 'not-executed':
      return { verdict: 'not-executed' };
    case 'unknown':
      return { verdict: 'unknown', detail: unknownDetail };
  }
}

// Every delay, timeout and retry count of the vend engine in one place, with its default. The
// daemon passes DaemonOptions.engine through; tests shorten them. Each says why it is what it is.
import { z } from 'zod';

export const engineTimingsSchema = z.strictObject({
  /** Wait before each read-back: devices show a command's result within a few hundred ms. */
  readbackDelayMs: z.int().min(0).max(10_000).default(150),
  /** How often unsettled vends, refunds not stored and the ledger's health are tried again. */
  reconcileEveryMs: z.int().min(10).max(600_000).default(5000),
  /** Read-backs of one credit before an answer that stays unclear leaves the vend unresolved (vend-machine.ts). */
  maxReadbacks: z.int().min(1).max(100).default(5),
  /** Reads a reconcile (or a command's fresh read) tries before it gives up until the next periodic try. */
  reconcileReads: z.int().min(1).max(20).default(3),
  /** Between two of those reads, after one went unanswered. */
  reconcileReadRetryMs: z.int().min(0).max(10_000).default(200),
  /** How long a reconcile keeps looking while the receipt says look again (a coin train still running). */
  settleWaitMs: z.int().min(0).max(120_000).default(10_000),
  /** Within this long after a vend on a machine, its polled state may predate that vend: read it afresh. */
  freshReadAfterVendMs: z.int().min(0).max(120_000).default(5000),
  /** How long a remote or operator command waits for a vend in progress on its machine. */
  commandWaitMs: z.int().min(0).max(600_000).default(15_000),
  /** How often that wait looks whether the machine is free. */
  commandWaitPollMs: z.int().min(1).max(10_000).default(25),
  /** Between a command's fresh reads, after one went unanswered (a lost reply on a busy bus). */
  commandReadRetryMs: z.int().min(0).max(10_000).default(100),
  /** After a restart a running cycle is bound only to a vend captured at most this long before it could have started. */
  faultSlackMs: z.int().min(0).max(24 * 3_600_000).default(60 * 60_000),
  /** How many recent vends are searched for the one that paid a cycle. */
  faultSearchVends: z.int().min(1).max(100_000).default(200),
});

export type EngineTimings = z.infer<typeof engineTimingsSchema>;
export type EngineTimingsInput = z.input<typeof engineTimingsSchema>;

/** The timings with every default filled in; throws on a value out of range. */
export function engineTimings(input: EngineTimingsInput = {}): EngineTimings {
  return engineTimingsSchema.parse(input);
}

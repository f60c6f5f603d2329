// Every timeout, attempt count and wait of the profiles' command flows and discovery, in one
// validated object with defaults. Nothing in a flow picks its own number.
import { z } from 'zod';

export const lw485OptionsSchema = z.strictObject({
  /**
   * fc16 attempts of one command block with the SAME seq when the reply is lost. Kept below the
   * bus breaker's failure threshold (3 by default) so the read-back of inputs 24-25 still gets on
   * the wire after the last lost attempt.
   */
  writeAttempts: z.int().min(1).max(10).default(2),
  /** Pause before repeating a write whose reply was lost: lets the line go quiet. */
  retryDelayMs: z.int().min(0).max(5000).default(50),
  /** Exception 06 (EEPROM write): the datasheet says retry after 100 ms. */
  busyRetryDelayMs: z.int().min(0).max(5000).default(100),
  busyAttempts: z.int().min(1).max(20).default(5),
  /** The result shows in inputs 24-25 within 200 ms; read back for a little longer than that. */
  resultDeadlineMs: z.int().min(50).max(10_000).default(350),
  resultPollIntervalMs: z.int().min(5).max(1000).default(40),
  /** The program table is read in chunks that keep each read under the 125-register limit. */
  maxProgramsPerRead: z.int().min(1).max(15).default(15),
});

export const rio8OptionsSchema = z.strictObject({
  /** Time allowed for a train beyond its nominal N × (on + off). */
  pulseMarginMs: z.int().min(0).max(60_000).default(500),
  /** Slack factor on the nominal train time: the module's timing is its own. */
  pulseTimeFactor: z.number().min(1).max(10).default(1.5),
  pulseCheckIntervalMs: z.int().min(5).max(5000).default(50),
  /** After a lost write reply: wait this long before the read-back that decides "not executed". */
  lostReplySettleMs: z.int().min(0).max(10_000).default(200),
  /** Attempts of each read-back read (counter, pending) after a lost write reply. */
  readbackAttempts: z.int().min(1).max(10).default(3),
  readbackDelayMs: z.int().min(0).max(5000).default(50),
});

export const profileOptionsSchema = z.strictObject({
  lw485: lw485OptionsSchema.prefault({}),
  rio8: rio8OptionsSchema.prefault({}),
});

export type Lw485Options = z.infer<typeof lw485OptionsSchema>;
export type Rio8Options = z.infer<typeof rio8OptionsSchema>;
export type ProfileOptions = z.infer<typeof profileOptionsSchema>;
export type ProfileOptionsInput = z.input<typeof profileOptionsSchema>;

export function profileOptions(input: ProfileOptionsInput = {}): ProfileOptions {
  return profileOptionsSchema.parse(input);
}

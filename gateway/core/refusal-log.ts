// Refusals under a flood (connections turned away, requests over a cap) are logged once, then at
// most once per interval with how many were left out, and counted by reason for /metrics: a
// flood must not turn into a flood of log lines on the SD card or in the journal.
import type { Clock } from './clock.js';
import type { Logger } from './log.js';

export class RefusalLog {
  private readonly totals = new Map<string, number>();
  private readonly lastLogged = new Map<string, { at: number; unlogged: number }>();

  constructor(private readonly o: { logger: Logger; clock: Clock; everyMs?: number }) {}

  /** Counts one refusal of `reason`; logs it if none of that reason was logged within the interval. */
  note(reason: string, message: string, detail: Record<string, unknown> = {}): void {
    this.totals.set(reason, (this.totals.get(reason) ?? 0) + 1);
    const now = this.o.clock.monotonic();
    const last = this.lastLogged.get(reason);
    if (last !== undefined && now - last.at < (this.o.everyMs ?? 60_000)) {
      last.unlogged += 1;
      return;
    }
    this.o.logger.warn({ reason, ...detail, notLoggedSinceLast: last?.unlogged ?? 0, total: this.totals.get(reason) }, message);
    this.lastLogged.set(reason, { at: now, unlogged: 0 });
  }

  /** Refusals since start, by reason. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.totals);
  }
}

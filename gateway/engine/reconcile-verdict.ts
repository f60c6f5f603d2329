// What an unfinished vend's machine says about it, for a reconcile (at start-up, and while a
// machine is blocked): the verdict event fed to the vend session. A vend still 'held' never
// reached the wire; one 'credit_sent' is settled by its command's receipt (its profile's proof).
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { sleep, type Timers } from '../core/timers.js';
import type { Ledger } from '../../storage/index.js';
import { receiptFor } from '../profiles/evidence.js';
import type { VendEvent } from '../vend/vend-machine.js';
import type { EngineTimings } from './engine-options.js';
import type { MachineAccess } from './machine-access.js';

export interface ReconcileDeps {
  ledger: Ledger;
  machines: MachineAccess;
  clock: Clock;
  timers: Timers;
  logger: Logger;
  timings: Pick<EngineTimings, 'settleWaitMs' | 'reconcileReads' | 'reconcileReadRetryMs'>;
}

/**
 * passBegan: when the reconcile pass this vend is part of began (monotonic ms); every write of the
 * vend's command came before it. Default: now.
 */
export async function reconcileEvent(o: ReconcileDeps, state: string, machineId: string, rawEvidence: unknown, passBegan?: number): Promise<VendEvent> {
  // The evidence is written before the command leaves: a vend still 'held' never reached the wire.
  if (state === 'held') return { type: 'crash-recovery', verdict: 'not-executed' };
  const receipt = receiptFor(rawEvidence);
  if (receipt === null || !o.machines.has(machineId)) return { type: 'crash-recovery', verdict: 'unknown' };
  // The receipt may ask to look again (a train still running); that is bounded by settleWaitMs
  // rather than leaving the machine blocked until the next periodic try.
  const until = o.clock.monotonic() + o.timings.settleWaitMs;
  // Every write of this command came before this reconcile pass began (by a run that died, or by
  // this run's session, which is over): a 'not-executed' read is proof only once the device has
  // had its time to show the result since then.
  const notExecutedProvenFrom = (passBegan ?? o.clock.monotonic()) + receipt.resultWithinMs;
  // One lost reply on a busy bus is no reason to block a machine until the next periodic try.
  let readsLeft = o.timings.reconcileReads;
  let waitedForResult = false;
  for (;;) {
    const readAt = o.clock.monotonic();
    const read = await o.machines.readNow(machineId);
    if (!read.ok) {
      if (--readsLeft <= 0) return { type: 'crash-recovery', verdict: 'unknown' };
      await sleep(o.timers, o.timings.reconcileReadRetryMs);
      continue;
    }
    const step = receipt.reconcile(read.state);
    if (step.verdict === 'not-executed' && readAt < notExecutedProvenFrom && !waitedForResult) {
      waitedForResult = true;
      const waitMs = Math.ceil(notExecutedProvenFrom - readAt);
      o.logger.info({ machineId, waitMs }, 'not executed yet, read inside the result window: waiting it out before a refund');
      await sleep(o.timers, waitMs);
      continue;
    }
    if (step.lookAgainMs === null || o.clock.monotonic() > until) {
      if (step.alert !== null) {
        o.logger.warn({ machineId, ...step.alert.log }, step.alert.logMessage);
        try {
          o.ledger.appendAlert({ code: step.alert.code, message: step.alert.message, machineId });
        } catch (e) {
          o.logger.error({ machineId, err: e instanceof Error ? e.message : String(e) }, 'alert not stored: the ledger cannot write');
        }
      }
      return { type: 'crash-recovery', verdict: step.verdict, reason: step.reason };
    }
    await sleep(o.timers, step.lookAgainMs);
  }
}

// What an unfinished vend's machine says about it, for a reconcile (at start-up, and while a
// machine is blocked): the verdict event fed to the vend session. A vend still 'held' never
// reached the wire; one 'credit_sent' is read against its evidence (LW-485 seq, RIO-8 counter).
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import type { VendEvent } from '../vend/vend-machine.js';
import { rio8CounterRestarted } from '../profiles/rio8-codec.js';
import type { MachineAccess } from './machine-access.js';
import { parseEvidence, reconcileFromState, rejectionFromState } from './readback.js';

export interface ReconcileDeps {
  ledger: Ledger;
  machines: MachineAccess;
  clock: Clock;
  logger: Logger;
  /** How long a reconcile waits for a RIO-8 pulse train still running to end. */
  trainSettleMs?: number;
  /** Reads a reconcile tries before it leaves a vend unresolved until the next periodic try. */
  reconcileReads?: number;
}

export async function reconcileEvent(o: ReconcileDeps, state: string, machineId: string, rawEvidence: unknown): Promise<VendEvent> {
  // The evidence is written before the command leaves: a vend still 'held' never reached the wire.
  if (state === 'held') return { type: 'crash-recovery', verdict: 'not-executed' };
  const evidence = parseEvidence(rawEvidence);
  if (evidence === null || !o.machines.has(machineId)) return { type: 'crash-recovery', verdict: 'unknown' };
  // A RIO-8 train may still be running: its pending and counter registers are read one after
  // the other, so mid-train they can disagree by a pulse. Ask again until the train is over
  // (it is bounded: coins x pulse period) rather than leave the machine blocked.
  const until = o.clock.monotonic() + (o.trainSettleMs ?? 10_000);
  // One lost reply on a busy bus is no reason to block a machine until the next periodic try.
  let readsLeft = o.reconcileReads ?? 3;
  for (;;) {
    const read = await o.machines.readNow(machineId);
    if (!read.ok) {
      if (--readsLeft <= 0) return { type: 'crash-recovery', verdict: 'unknown' };
      await delay(200);
      continue;
    }
    const verdict = reconcileFromState(evidence, read.state);
    const counter = read.state.confirm.pulseCounter;
    if (counter !== undefined && rio8CounterRestarted(evidence, counter, read.state.confirm.pendingPulses ?? 0)) {
      // Settled by the in-use input alone (reconcileRio8): the operator should look at the machine.
      const settled = verdict === 'executed-accepted' ? 'captured: the machine runs' : 'refunded: the machine may hold some of its coins';
      o.logger.warn({ machineId, counterBefore: evidence.profile === 'rio8' ? evidence.counterBefore : null, counterNow: counter, verdict }, 'RIO-8 pulse counter restarted under an unsettled vend');
      try {
        o.ledger.appendAlert({ code: 'rio8_counter_restarted', message: `the RIO-8 restarted (power cut?) during a coin train; the vend is ${settled}`, machineId });
      } catch (e) {
        o.logger.error({ machineId, err: e instanceof Error ? e.message : String(e) }, 'alert not stored: the ledger cannot write');
      }
    }
    const running = evidence.profile === 'rio8' && (read.state.confirm.pendingPulses ?? 0) > 0;
    if (verdict !== 'unknown' || !running || o.clock.monotonic() > until) return { type: 'crash-recovery', verdict, reason: rejectionFromState(evidence, read.state) };
    await delay(100);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

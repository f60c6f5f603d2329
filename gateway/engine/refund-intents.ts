// Refunds planned before their command reaches the machine (storage/refund-intents.ts): an app
// cancel of a paid credit stores its refund, with the CANCEL's evidence, before the frame leaves.
// Here they are settled: right after the machine's answer, and again on the engine's retry timer
// and at start-up for every intent a failed write or a crash left open. An open intent keeps its
// machine blocked (no command may move the device fact its evidence is read against) until the
// machine's own word settles it: the command ran -> the refund, once (its key is the intent id);
// it did not -> no refund. Each settle is one transaction with the command's audit record.
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { sleep, type Timers } from '../core/timers.js';
import type { IntentSettlement, Ledger } from '../../storage/index.js';
import type { MachineAccess } from './machine-access.js';
import { receiptFor } from '../profiles/evidence.js';
import { ledgerWrite, type ActionDeps } from './actions.js';

export interface RefundIntentDeps {
  ledger: Ledger;
  machines: MachineAccess;
  deps: Pick<ActionDeps, 'health' | 'log'>;
  log: Logger;
  clock: Pick<Clock, 'monotonic'>;
  timers: Timers;
}

export class RefundIntents {
  /** Intents whose command the machine is known to have run (its answer came, the refund write failed). */
  private readonly accepted = new Map<string, string>();
  /** Machines with an intent not settled: blocked by the engine. */
  private readonly open = new Set<string>();
  /** Intents whose command is on its way to the machine now: only its answer settles them. */
  private readonly sending = new Set<string>();
  /** Monotonic ms each intent of this run was left open (its command's writes all came before). */
  private readonly keptOpenAt = new Map<string, number>();

  constructor(private readonly d: RefundIntentDeps) {}

  /**
   * The command of this intent is being sent: a retry must not read the machine meanwhile (the
   * seq has not moved yet, it would settle the intent as "not cancelled"). Ended by settle/keepOpen.
   */
  sendingNow(intentId: string): void {
    this.sending.add(intentId);
  }

  hasOpen(machineId: string): boolean {
    return this.open.has(machineId);
  }

  openMachines(): Set<string> {
    return new Set(this.open);
  }

  /** The command's answer is in: settle now. Null when the ledger did not store it: the intent stays open (retried), its machine blocked. */
  settle(intentId: string, machineId: string, s: IntentSettlement): ReturnType<Ledger['settleRefundIntent']> | null {
    this.sending.delete(intentId);
    const r = ledgerWrite(this.d.deps, 'settleRefundIntent', () => this.d.ledger.settleRefundIntent(intentId, s));
    if (r === null) {
      if (s.refund) this.accepted.set(intentId, s.money);
      this.open.add(machineId);
    }
    return r;
  }

  /** The command's answer is unknown: the intent stays open, its machine blocked, until a read settles it. */
  keepOpen(intentId: string, machineId: string): void {
    this.sending.delete(intentId);
    this.keptOpenAt.set(intentId, this.d.clock.monotonic());
    this.open.add(machineId);
  }

  /** The command was not sent after all (nothing stored): forget it. */
  notSent(intentId: string): void {
    this.sending.delete(intentId);
  }

  /** The intents whose machines a settle pass will read (not those whose command is on its way now). */
  toSettle(): Array<{ intentId: string; machineId: string }> {
    try {
      return this.d.ledger.openRefundIntents().filter((i) => !this.sending.has(i.intentId));
    } catch {
      return [];
    }
  }

  /**
   * Settles every open intent that can be: by what this run knows, else by a fresh read of the
   * machine against the command's evidence. Returns the machines whose intents are still open.
   * passBegan: when this settle pass began (monotonic ms); the commands of the intents it finds
   * were written before it (by a run that died) or before they were left open (this run). A
   * "not executed" read sooner than the receipt's result window after that is no proof: the
   * controller may show the CANCEL a moment later, and the customer would lose the refund.
   */
  async settleOpen(passBegan: number = this.d.clock.monotonic()): Promise<Set<string>> {
    let list;
    try {
      list = this.d.ledger.openRefundIntents();
    } catch (e) {
      this.d.log.error({ err: e instanceof Error ? e.message : String(e) }, 'refund intents not readable');
      return new Set(this.open);
    }
    const still = new Set<string>();
    for (const i of list) {
      if (this.sending.has(i.intentId)) continue;
      const money = this.accepted.get(i.intentId);
      let s: IntentSettlement | null = money !== undefined ? { refund: true, result: 'accepted', money } : null;
      if (s === null) {
        // The cancel's own profile says whether it ran.
        const receipt = receiptFor(i.evidence);
        const readVerdict = async (): Promise<string> => {
          const read = receipt !== null && this.d.machines.has(i.machineId) ? await this.d.machines.readNow(i.machineId) : null;
          return receipt !== null && read?.ok === true ? receipt.verdict(read.state) : 'unknown';
        };
        const readAt = this.d.clock.monotonic();
        let verdict = await readVerdict();
        const provenFrom = Math.max(passBegan, this.keptOpenAt.get(i.intentId) ?? passBegan) + (receipt?.resultWithinMs ?? 0);
        if (verdict === 'not-executed' && readAt < provenFrom) {
          const waitMs = Math.ceil(provenFrom - readAt);
          this.d.log.info({ intentId: i.intentId, machineId: i.machineId, waitMs }, 'command not shown yet, read inside the result window: waiting it out before settling it as not run');
          await sleep(this.d.timers, waitMs);
          verdict = await readVerdict();
        }
        if (verdict === 'executed-accepted') s = { refund: true, result: 'accepted', money: `refunded ${i.amountCents} ¢ (the machine ran the cancel; settled by reading it back)` };
        else if (verdict === 'not-executed' || verdict === 'executed-rejected') s = { refund: false, result: verdict === 'not-executed' ? 'unknown' : 'rejected', reason: null, money: 'none: the machine did not cancel (read back)' };
      }
      const r = s === null ? null : ledgerWrite(this.d.deps, 'settleRefundIntent', () => this.d.ledger.settleRefundIntent(i.intentId, s));
      if (r === null) {
        still.add(i.machineId);
        this.d.log.warn({ intentId: i.intentId, vendId: i.vendId, machineId: i.machineId }, 'refund intent still open: its machine stays blocked');
      } else {
        this.accepted.delete(i.intentId);
        this.keptOpenAt.delete(i.intentId);
        this.d.log.info({ intentId: i.intentId, vendId: i.vendId, machineId: i.machineId, refunded: r.refund?.ok === true ? r.refund.refundedCents : 0 }, 'refund intent settled');
      }
    }
    this.open.clear();
    for (const m of still) this.open.add(m);
    return still;
  }
}

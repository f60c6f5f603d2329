// Reconciling: settles unfinished vends by their machine's answer, those a crash left behind and
// those whose machine went silent mid-vend, and retries what the ledger did not store. A machine
// with an unsettled vend takes no new vend, since a new command would overwrite the evidence (a
// device's last command, a counter) the old one is settled by.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import { recoverVendSession, type VendRequest, type VendSession } from '../vend/vend-machine.js';
import type { ActionContext } from './actions.js';
import type { MachineClaims } from './machine-claims.js';
import type { PendingRefunds } from './pending-refunds.js';
import { reconcileEvent, type ReconcileDeps } from './reconcile-verdict.js';
import type { RefundIntents } from './refund-intents.js';
import { drive, type SessionDeps } from './vend-session.js';

export interface UnsettledVendsDeps extends SessionDeps {
  ledger: Ledger;
  claims: MachineClaims;
  intents: RefundIntents;
  pendingRefunds: PendingRefunds;
  reconcile: ReconcileDeps;
  log: Logger;
  /** A ledger write outside a session: null when it failed (the engine's safeWrite). */
  safeWrite<T>(op: string, write: () => T): T | null;
  /** A vend captured here, after its credit ran: its machine may already be in the cycle it paid (FaultWatch.vendCaptured). */
  captured(machineId: string, vendId: string): void;
}

export class UnsettledVends {
  /** Sessions whose capture or refund the ledger did not store: retried, their machine blocked. */
  private readonly unsettled = new Map<string, { session: VendSession; ctx: ActionContext }>();
  /** Unfinished vends this run already filed a vend_unsettled alert for. */
  private readonly alertedOpen = new Set<string>();

  constructor(private readonly d: UnsettledVendsDeps) {}

  keep(vendId: string, session: VendSession, ctx: ActionContext): void {
    this.unsettled.set(vendId, { session, ctx });
  }

  /** Whether this run holds an unsettled session on the machine. */
  hasOn(machineId: string): boolean {
    for (const u of this.unsettled.values()) if (u.ctx.machineId === machineId) return true;
    return false;
  }

  async reconcileUnfinished(): Promise<{ settled: number; open: string[] }> {
    const { ledger, claims, log } = this.d;
    const open: string[] = [];
    let settled = 0;
    // First what this run already knows: a confirmed credit whose capture was not stored is
    // captured again without asking the machine (it ran it); a refund not stored is refunded again.
    for (const [vendId, u] of [...this.unsettled]) {
      const session = await drive(this.d, u.session, { type: 'retry' }, u.ctx);
      if (session.state === 'captured' || session.state === 'refunded') {
        settled++;
        this.unsettled.delete(vendId);
        claims.unblock(u.ctx.machineId);
        if (session.state === 'captured') this.d.captured(u.ctx.machineId, vendId);
        log.info({ vendId, machineId: u.ctx.machineId, state: session.state }, 'vend settled on retry');
      } else {
        this.unsettled.set(vendId, { session, ctx: u.ctx });
        open.push(vendId);
      }
    }
    this.d.pendingRefunds.retry();
    // One pass, one start: every command read below (an intent's CANCEL, an unfinished vend's
    // credit) was written before it (by a run that died, or by a session or command of this run
    // that is over), so the receipt's result window runs from here for all of them, not again
    // for each machine in turn (three machines: 2 s, not 6 s).
    const passBegan = this.d.reconcile.clock.monotonic();
    // Refunds planned before a command (an app cancel) whose settle a crash or a failed write left.
    // Their machines are blocked before the first read, as the vends' are below.
    const hadIntents = this.d.intents.openMachines();
    for (const i of this.d.intents.toSettle()) {
      claims.block(i.machineId);
      hadIntents.add(i.machineId);
    }
    const intentMachines = await this.d.intents.settleOpen(passBegan);
    for (const m of intentMachines) claims.block(m);
    for (const m of hadIntents) if (!intentMachines.has(m)) claims.unblock(m);
    const toSettle = ledger.unfinishedVends().filter((v) => !this.unsettled.has(v.vendId) && !(claims.isBusy(v.machineId) && !claims.isBlocked(v.machineId))); // a running session settles its own
    // Each machine is blocked before the first read: while its vend is being settled (reads, the
    // result window's wait) nothing else may be admitted on it, since a new command would move
    // the evidence its settling reads and charge a second time on top of the unsettled credit.
    for (const v of toSettle) claims.block(v.machineId);
    for (const v of toSettle) {
      const now = ledger.getVend(v.vendId)?.state;
      if (now !== 'held' && now !== 'credit_sent') {
        claims.unblock(v.machineId);
        continue;
      }
      const request: VendRequest = { machineId: v.machineId, command: 'credit', program: v.program ?? 0 };
      let session = recoverVendSession({ vendId: v.vendId, request, amountCents: v.amountCents, evidence: v.creditEvidence, creditSent: v.state === 'credit_sent' });
      const verdictEvent = await reconcileEvent(this.d.reconcile, v.state, v.machineId, v.creditEvidence, passBegan);
      const ctx: ActionContext = { declineRecorded: true, machineId: v.machineId };
      session = await drive(this.d, session, verdictEvent, ctx);
      const verdict = verdictEvent.type === 'crash-recovery' ? verdictEvent.verdict : null;
      if (session.state === 'capturing' || session.state === 'refunding') this.unsettled.set(v.vendId, { session, ctx: { declineRecorded: true, machineId: v.machineId } });
      if (session.state === 'captured' || session.state === 'refunded') {
        settled++;
        // The polled state may predate the settle (a train still running): read afresh before the next vend.
        claims.ended(v.machineId);
        claims.unblock(v.machineId);
        if (session.state === 'captured') this.d.captured(v.machineId, v.vendId);
        log.info({ vendId: v.vendId, machineId: v.machineId, verdict, state: session.state }, 'unfinished vend settled');
      } else {
        open.push(v.vendId);
        claims.block(v.machineId);
        log.warn({ vendId: v.vendId, machineId: v.machineId, verdict }, 'unfinished vend still unsettled: machine blocked until it answers');
        // Once per vend and run, for the operator, when the machine did not answer: the money stays
        // held, the machine blocked, until it does (or someone looks at it); nothing is guessed.
        // (A verdict known but not stored is the ledger's outage, alerted by LedgerHealth.)
        if (session.state === 'unresolved' && !this.alertedOpen.has(v.vendId)) {
          this.alertedOpen.add(v.vendId);
          this.d.safeWrite('appendAlert', () => ledger.appendAlert({ code: 'vend_unsettled', message: `vend ${v.vendId} (${v.state}) cannot be proven yet: its machine does not answer; held and the machine blocked until it does`, machineId: v.machineId, vendId: v.vendId }));
        }
      }
    }
    return { settled, open };
  }
}

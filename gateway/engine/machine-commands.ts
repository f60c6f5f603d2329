// Commands that are not a new vend, under the vend engine's claim on their machine: the app's
// start, pause, resume, add-time and cancel (remote commands from the cloud) and an operator's
// clear-fault, service mode and refund. The claim waits for a vend in progress and refuses while
// one is unsettled, so no command moves the evidence (a device's last command, a counter) a vend's
// read-back or reconcile depends on. Each command is audited with what it did to money:
//   start    with a payer: a vend like a card's (authorize.ts), then START; without one only on
//            a machine a vend of ours credited (it is already paid);
//   addTime  its own priced vend (request 'add-time'), paid by the command's payer or the
//            account that paid the running cycle; refunded when the machine refuses;
//   cancel   the credited or running cycle's payer gets money back once: the whole price before
//            the start, after it the unused share by remaining time (the fault-refund rule);
//   pause, resume, clear-fault, service mode: no money, and the audit record says so.
import type { Logger } from '../core/log.js';
import type { IntentSettlement, Ledger } from '../../storage/index.js';
import type { MachineState } from '../machines/state.js';
import type { CommandEvidence, CommandOutcome, RejectReason } from '../profiles/types.js';
import type { RemoteCommand } from '../../protocols/mqtt/payloads.js';
import type { RemoteCommandResult } from '../uplink/downlinks.js';
import { faultRefund, type FaultRefundPolicy } from '../vend/fault-refund.js';
import type { ReasonCode } from '../vend/reasons.js';
import { admissionReason } from './admission.js';
import type { Payer } from './authorize.js';
import type { MachineAccess } from './machine-access.js';
import type { FaultWatch } from './fault-watch.js';
import type { PendingRefunds } from './pending-refunds.js';
import type { RefundIntents } from './refund-intents.js';
import type { VendOutcome } from './vend-outcome.js';

/** What the command runner needs of the vend engine (which builds the runner: no import back). */
export interface CommandEngine {
  claimForCommand(machineId: string, waitMs?: number): Promise<{ reason: ReasonCode; state: null } | { reason: null; state: MachineState }>;
  releaseCommand(machineId: string): void;
  vendClaimed(machineId: string, state: MachineState, payer: Payer, program: number | undefined, addTime?: { minutes: number; command?: { source: 'remote'; commandId: string; kind: string; machineId: string } }): Promise<VendOutcome>;
  safeWrite<T>(op: string, write: () => T): T | null;
  track<T>(p: Promise<T>): Promise<T>;
  readonly faults: FaultWatch;
  readonly pendingRefunds: PendingRefunds;
  readonly intents: RefundIntents;
  blockMachine(machineId: string): void;
}

export interface MachineCommandDeps {
  engine: CommandEngine;
  ledger: Ledger;
  machines: MachineAccess;
  policy: FaultRefundPolicy;
  log: Logger;
  now: () => number;
}

type Money = { money: string; vendId?: string };
/** The machine's answer, or the engine's for a command carried out as a vend. */
type Answer = { status: CommandOutcome['status']; reason?: string; detail?: string };

export class MachineCommandRunner {
  constructor(private readonly d: MachineCommandDeps) {}

  /** A verified remote command from the cloud (gateway/uplink/downlinks.ts); the engine's stop() waits for it. */
  remote(cmd: RemoteCommand): Promise<RemoteCommandResult> {
    return this.d.engine.track(this.runRemote(cmd));
  }

  private async runRemote(cmd: RemoteCommand): Promise<RemoteCommandResult> {
    const { engine } = this.d;
    const gate = await engine.claimForCommand(cmd.machineId);
    if (gate.reason !== null) return this.refused(cmd, gate.reason, `the gateway refused: ${gate.reason}`);
    try {
      switch (cmd.kind) {
        case 'pause':
        case 'resume':
          return await this.plain(cmd, cmd.kind === 'pause' ? 'pause moves no money' : 'resume moves no money');
        case 'start':
          return await this.start(cmd, gate.state);
        case 'cancel':
          return await this.cancel(cmd, gate.state);
        case 'addTime':
          return await this.addTime(cmd, gate.state);
      }
    } finally {
      engine.releaseCommand(cmd.machineId);
    }
  }

  private async plain(cmd: RemoteCommand, money: string, vendId?: string): Promise<RemoteCommandResult> {
    const c = this.d.machines.commander(cmd.machineId);
    const o = cmd.kind === 'pause' ? await c.pause() : cmd.kind === 'resume' ? await c.resume() : await c.start();
    return this.done(cmd, o, { money: `none: ${money}`, ...(vendId !== undefined ? { vendId } : {}) });
  }

  private async start(cmd: RemoteCommand, state: MachineState): Promise<RemoteCommandResult> {
    if (cmd.payment === undefined) {
      // Unpaid: only a credit one of our vends put on the machine (and nobody started yet).
      const paid = state.status === 'credited' ? this.d.engine.faults.creditedVend(cmd.machineId, this.d.now()) : undefined;
      if (paid === undefined) return this.refused(cmd, 'payment_required', 'no vend of ours credited this machine: a start needs a payer');
      return this.plain(cmd, `starts the credit vend ${paid.vendId} paid`, paid.vendId);
    }
    const admission = admissionReason(state);
    if (admission !== null) return this.refused(cmd, admission, `the machine cannot take a vend: ${admission}`);
    const v = await this.d.engine.vendClaimed(cmd.machineId, state, this.payerOf(cmd, cmd.payment), undefined);
    if (v.result !== 'captured') return this.vendFailed(cmd, v);
    const o = await this.d.machines.commander(cmd.machineId).start();
    const money = { money: `paid by vend ${v.vendId} (${v.amountCents} ¢)`, vendId: v.vendId };
    if (o.status === 'accepted') return this.done(cmd, o, money);
    // The credit is on the machine and paid: the user can press Start there, or cancel for a refund.
    return this.done(cmd, o, { ...money, money: `${money.money}; credited, not started: Start at the machine or cancel for a refund` });
  }

  private async addTime(cmd: RemoteCommand, state: MachineState): Promise<RemoteCommandResult> {
    const args = cmd.args;
    if (args === undefined) return this.refused(cmd, 'bad_argument', 'addTime needs minutes and amountCents');
    if (state.status !== 'running' && state.status !== 'paused') return this.refused(cmd, 'no_paid_cycle', `the machine is ${state.status}, not in a cycle`);
    // The cycle these minutes are bought for (a fault during this vend's capture refunds them too).
    const cycle = this.d.engine.faults.cycleOf(cmd.machineId);
    let payer: Payer;
    if (cmd.payment !== undefined) payer = this.payerOf(cmd, cmd.payment.by === 'prepaid' ? { by: 'prepaid', amountCents: args.amountCents } : cmd.payment, args.amountCents);
    else {
      const paidBy = cycle ? this.d.ledger.getVend(cycle.vendId) : undefined;
      if (paidBy === undefined) return this.refused(cmd, 'no_paid_cycle', 'no vend of ours paid the running cycle: add-time needs a payer');
      if (paidBy.funding !== 'account' || paidBy.accountId === null) return this.refused(cmd, 'payment_required', 'the running cycle was paid online: add-time needs a prepaid amount');
      payer = { by: 'account', accountId: paidBy.accountId, commandId: cmd.id, maxCents: args.amountCents };
    }
    // Its audit record goes into the capture's or the refund's transaction (actions.ts).
    const command = { source: 'remote' as const, commandId: cmd.id, kind: cmd.kind, machineId: cmd.machineId };
    const v = await this.d.engine.vendClaimed(cmd.machineId, state, payer, state.program ?? undefined, { minutes: args.minutes, command });
    if (v.result === 'refunded') return { status: 'rejected', reason: v.reason ?? 'not_executed', detail: `vend ${v.vendId} refunded (${v.reason ?? 'not executed'})` };
    if (v.result !== 'captured') return this.vendFailed(cmd, v);
    // Part of the running cycle's money from now on: a fault refunds its unused share too.
    this.d.engine.faults.addToCycle(cmd.machineId, v.vendId, v.amountCents, cycle?.vendId);
    return { status: 'accepted', reason: null, detail: `add-time paid by vend ${v.vendId} (${v.amountCents} ¢)` };
  }

  private async cancel(cmd: RemoteCommand, state: MachineState): Promise<RemoteCommandResult> {
    const { engine } = this.d;
    const plan = this.cancelRefundPlan(cmd, state);
    if (plan === null || (plan.amountCents <= 0 && plan.points === undefined)) {
      const o = await this.d.machines.commander(cmd.machineId).cancel();
      if (o.status === 'accepted' && plan !== null) engine.faults.endCycle(cmd.machineId, plan.vendId);
      const money = plan === null ? 'none: no paid cycle of ours on the machine' : `none: ${plan.rule}`;
      return this.done(cmd, o, { money, ...(plan !== null ? { vendId: plan.vendId } : {}) });
    }
    // The refund is planned and stored, with the CANCEL's seq, before the frame leaves: a crash or
    // a failed write after the machine ran it leaves an intent the engine settles by asking the
    // machine (refund-intents.ts). Not stored: the cancel is not sent (fail closed).
    const intentId = `remote_cancel:${cmd.id}`;
    let stored = false;
    const beforeSend = (evidence: CommandEvidence): void => {
      const r = engine.safeWrite('openRefundIntent', () =>
        this.d.ledger.openRefundIntent({
          intentId, vendId: plan.vendId, machineId: cmd.machineId, amountCents: plan.amountCents, ...(plan.points !== undefined ? { points: plan.points } : {}), reason: 'remote_cancel', evidence,
          command: { source: 'remote', commandId: cmd.id, kind: cmd.kind, machineId: cmd.machineId },
          detail: { commandId: cmd.id, rule: plan.rule, elapsedShare: plan.elapsedShare },
        }),
      );
      if (r === null) throw new Error('the ledger could not store the planned refund: cancel not sent');
      stored = true;
    };
    let o: CommandOutcome;
    engine.intents.sendingNow(intentId);
    try {
      o = await this.d.machines.commander(cmd.machineId).cancel(beforeSend);
    } catch (e) {
      if (!stored) {
        engine.intents.notSent(intentId);
        return this.refused(cmd, 'ledger_unavailable', 'the ledger cannot write: the cancel was not sent');
      }
      o = { status: 'unknown', detail: e instanceof Error ? e.message : String(e) };
    }
    if (o.status === 'accepted') engine.faults.endCycle(cmd.machineId, plan.vendId);
    const settlement: IntentSettlement =
      o.status === 'accepted' ? { refund: true, result: 'accepted', money: `refunded ${plan.amountCents} ¢${plan.points !== undefined ? ` and ${plan.points} points` : ''} (${plan.rule})` }
      : { refund: false, result: o.status, reason: o.status === 'rejected' ? o.reason : null, money: 'none: the machine did not cancel' };
    // Not sent (a coin retrofit has no cancel, an unreachable unit): nothing was planned in the ledger.
    if (!stored) {
      engine.intents.notSent(intentId);
      return this.done(cmd, o, { money: 'none: the machine did not cancel', vendId: plan.vendId });
    }
    if (o.status === 'unknown') {
      // The machine's word is missing: the intent stays, the machine blocked, until a read settles it.
      engine.intents.keepOpen(intentId, cmd.machineId);
      engine.blockMachine(cmd.machineId);
      return { status: 'unknown', reason: null, detail: `${o.detail}; refund of ${plan.amountCents} ¢ settled once the machine answers` };
    }
    const r = engine.intents.settle(intentId, cmd.machineId, settlement);
    if (r === null) {
      engine.blockMachine(cmd.machineId);
      return { status: o.status, reason: o.status === 'rejected' ? o.reason : null, detail: `${settlement.money}: not stored yet (ledger cannot write), retried` };
    }
    const refund = r.refund;
    const money = refund === null ? settlement.money : refund.ok ? settlement.money : `no refund: ${refund.reason}`;
    return { status: o.status, reason: o.status === 'rejected' ? o.reason : null, detail: o.status === 'rejected' ? `${o.detail}; ${money}` : money };
  }

  /**
   * What a cancel gives back, read before the cancel clears the machine: a credited machine's
   * vend, all of what is left of it (an operator may have refunded part); a running cycle's, the
   * unused share by remaining time (the fault-refund rule), at most what is left. A vend paid
   * with points gets its points back by the same share.
   */
  private cancelRefundPlan(cmd: RemoteCommand, state: MachineState): { vendId: string; amountCents: number; points?: number; rule: string; elapsedShare: number } | null {
    const { engine, ledger } = this.d;
    const credited = state.status === 'credited' ? engine.faults.creditedVend(cmd.machineId, this.d.now()) : undefined;
    const cycle = state.status === 'running' || state.status === 'paused' ? engine.faults.cycleOf(cmd.machineId) : undefined;
    const vendId = credited?.vendId ?? cycle?.vendId;
    if (vendId === undefined || cycle === undefined && credited === undefined) return null;
    const pts = ledger.capturedPointsOf(vendId);
    const pointsLeft = pts.points - pts.refundedPoints;
    const withPoints = (p: number): { points?: number } => (p > 0 ? { points: p } : {});
    if (credited) return { vendId, amountCents: credited.paidCents, ...withPoints(pointsLeft), rule: 'before-start', elapsedShare: 0 };
    if (!cycle) return null;
    const policy = { ...this.d.policy, mode: 'prorated' as const };
    const at = { durationSec: cycle.durationSec, remainingSec: state.remainingSec ?? 0 };
    const r = faultRefund(policy, { paidCents: cycle.paidCents, ...at });
    const left = (ledger.getVend(vendId)?.capturedCents ?? cycle.paidCents) - (ledger.capturedRefundOf(vendId) ?? 0);
    const points = pointsLeft > 0 ? Math.min(pointsLeft, faultRefund(policy, { paidCents: pts.points, ...at }).refundCents) : 0;
    return { vendId, amountCents: Math.max(0, Math.min(r.refundCents, left)), ...withPoints(points), rule: r.rule, elapsedShare: r.elapsedShare };
  }

  private payerOf(cmd: RemoteCommand, p: NonNullable<RemoteCommand['payment']>, maxCents?: number): Payer {
    return p.by === 'prepaid'
      ? { by: 'prepaid', amountCents: p.amountCents, commandId: cmd.id, expiresAtSec: cmd.expiresAtSec }
      : { by: 'account', accountId: p.accountId, commandId: cmd.id, ...(maxCents !== undefined ? { maxCents } : {}), ...(p.by === 'points' ? { withPoints: true } : {}) };
  }

  private vendFailed(cmd: RemoteCommand, v: Exclude<VendOutcome, { result: 'captured' }>): RemoteCommandResult {
    const money =
      v.result === 'refunded' ? { money: `vend ${v.vendId} refunded (${v.reason ?? 'not executed'})`, vendId: v.vendId }
      : v.result === 'unresolved' ? { money: `vend ${v.vendId} unsettled: captured or refunded once the machine answers`, vendId: v.vendId }
      : { money: 'none: declined before any hold' };
    const reason = v.result === 'declined' ? v.reason : v.result === 'refunded' ? (v.reason ?? 'not_executed') : 'vend_unsettled';
    this.audit(cmd, v.result === 'unresolved' ? 'unknown' : 'rejected', reason, money);
    return { status: v.result === 'unresolved' ? 'unknown' : 'rejected', reason, detail: money.money };
  }

  private refused(cmd: RemoteCommand, reason: ReasonCode, detail: string): RemoteCommandResult {
    this.audit(cmd, 'refused', reason, { money: 'none: refused before the machine' });
    this.d.log.info({ commandId: cmd.id, machineId: cmd.machineId, kind: cmd.kind, reason }, 'remote command refused');
    return { status: 'rejected', reason, detail };
  }

  private done(cmd: RemoteCommand, o: Answer, m: Money): RemoteCommandResult {
    const reason = o.status === 'rejected' ? (o.reason ?? null) : null;
    this.audit(cmd, o.status, reason, m);
    return { status: o.status, reason, detail: o.detail !== undefined ? `${o.detail}; ${m.money}` : m.money };
  }

  private audit(cmd: RemoteCommand, result: string, reason: string | null, m: Money): void {
    this.d.engine.safeWrite('recordCommand', () =>
      this.d.ledger.recordCommand({ source: 'remote', commandId: cmd.id, kind: cmd.kind, machineId: cmd.machineId, result, reason, money: m.money.slice(0, 200), ...(m.vendId ? { vendId: m.vendId } : {}) }),
    );
  }

  // ---- operator actions (status page, CLI) ----------------------------------------------------

  /** An operator gives a captured vend's money back: at most once per vend (the ledger's rule), reported only once stored. */
  operatorRefund(vendId: string, amountCents: number, note: string): ReturnType<Ledger['refundCaptured']> | { ok: false; reason: 'ledger_unavailable' } {
    const r = this.d.engine.safeWrite('refundCaptured', () => this.d.ledger.refundCaptured(vendId, { reason: 'operator_refund', amountCents, detail: { note } }));
    return r ?? { ok: false, reason: 'ledger_unavailable' };
  }

  /** A technician's clear-fault or service mode, under the same claim; no money. */
  operator(machineId: string, kind: 'clear-fault' | 'service-on' | 'service-off'): Promise<CommandOutcome> {
    return this.d.engine.track(this.runOperator(machineId, kind));
  }

  private async runOperator(machineId: string, kind: 'clear-fault' | 'service-on' | 'service-off'): Promise<CommandOutcome> {
    const gate = await this.d.engine.claimForCommand(machineId);
    if (gate.reason !== null) return { status: 'rejected', reason: rejectOf(gate.reason), deviceCode: null, detail: `${gate.reason}: the gateway refused the command` };
    try {
      const c = this.d.machines.commander(machineId);
      const o = kind === 'clear-fault' ? await c.clearFault() : await c.serviceMode(kind === 'service-on');
      this.d.engine.safeWrite('recordCommand', () =>
        this.d.ledger.recordCommand({ source: 'operator', kind, machineId, result: o.status, reason: o.status === 'rejected' ? o.reason : null, money: 'none: operator command moves no money' }),
      );
      return o;
    } finally {
      this.d.engine.releaseCommand(machineId);
    }
  }
}

function rejectOf(reason: ReasonCode): RejectReason {
  switch (reason) {
    case 'machine_offline':
      return 'unreachable';
    case 'not_allowed':
      return 'not_allowed';
    default:
      return 'busy';
  }
}

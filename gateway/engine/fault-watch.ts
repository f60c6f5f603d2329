// Fault refunds: a paid cycle that a machine fault cuts short gives money back by the room's
// policy (gateway/vend/fault-refund.ts), through the ledger's refundCaptured (once per vend,
// never above what was captured). Watches the pollers' state events:
//   - a machine entering RUNNING binds the cycle to the vend that paid it: the latest captured
//     vend on that machine, not already bound to an earlier cycle, captured before the start;
//   - RUNNING/PAUSED -> FAULT refunds per policy, by the remaining time the machine froze at the
//     fault; a fault before the cycle started keeps the credit on the machine: no refund case.
// Cycle length: the program's duration for a washer; the longest remaining time seen in the
// cycle for a dryer, rounded up to whole minutes (minutes are bought whole, and the first poll
// of the cycle comes well within a minute of its start). A cycle first seen under way (a
// restart mid-cycle, back from offline) is bound then too. Coin retrofits report no faults.
import type { Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import type { StateEvent } from '../machines/poller-types.js';
import type { MachineState } from '../machines/state.js';
import { faultRefund, type FaultRefundPolicy } from '../vend/fault-refund.js';
import type { MachineAccess } from './machine-access.js';

export interface FaultWatchOptions {
  ledger: Ledger;
  machines: MachineAccess;
  policy: FaultRefundPolicy;
  logger: Logger;
  /** How many recent vends are searched for the one that paid a cycle (engine-options.ts faultSearchVends). */
  searchVends: number;
  /** After a restart a running cycle is bound only to a vend captured at most this long before it could have started (faultSlackMs). */
  slackMs: number;
  /** A refund the ledger could not store (it threw): the engine retries it. */
  onRefundNotStored?: (vendId: string, input: { reason: string; amountCents: number; points?: number; detail: Record<string, unknown> }, err: unknown) => void;
}

export interface Cycle {
  vendId: string;
  paidCents: number;
  durationSec: number;
  /** Add-time vends bought during the cycle: a fault gives each the same unused share back. */
  addTimes: Array<{ vendId: string; paidCents: number }>;
}

const IN_CYCLE = new Set(['running', 'paused']);

export interface FaultRefundEvent {
  machineId: string;
  vendId: string;
  /** 0 when the policy gives nothing back (too late, below the minimum). */
  refundedCents: number;
  rule: string;
  elapsedShare: number;
}

export class FaultWatch {
  private readonly cycles = new Map<string, Cycle>();
  /** Vends already bound to a cycle: a vend pays for one cycle only. */
  private readonly bound = new Set<string>();
  /** Wall ms each machine's last cycle started: a vend captured before it paid for that one. */
  private readonly lastStart = new Map<string, number>();
  /** Vends already put to the operator as fault_refund_undecided this run. */
  private readonly undecided = new Set<string>();
  /** Each machine's last cycle cut short by a fault, with the state it froze at (an add-time captured just after). */
  private readonly lastFaulted = new Map<string, { cycle: Cycle; state: MachineState }>();
  private readonly log: Logger;
  private off: (() => void) | null = null;
  /** For tests and the status page: what each fault led to. */
  readonly decided: FaultRefundEvent[] = [];

  constructor(private readonly o: FaultWatchOptions) {
    this.log = o.logger.child({ component: 'fault-refund' });
  }

  start(): void {
    if (this.off) return;
    this.off = this.o.machines.onState((e) => this.guarded(e.state.machineId, () => this.onState(e)));
    // The pollers may have seen a machine before this start (the buses start first): one already
    // in FAULT is a fault this run did not see begin.
    // One already in a cycle (a restart mid-cycle) is bound now: its later events are no start.
    for (const id of this.o.machines.machineIds()) {
      const s = this.o.machines.state(id);
      if (s?.status === 'fault') this.guarded(id, () => this.faultNotSeen(s));
      else if (s !== undefined && s !== null && IN_CYCLE.has(s.status)) this.guarded(id, () => this.cycleSeenUnderWay(s));
    }
  }

  private guarded(machineId: string, run: () => void): void {
    try {
      run();
    } catch (err) {
      // A money path error is never swallowed quietly: it is logged as an error and alerted.
      const detail = err instanceof Error ? err.message : String(err);
      this.log.error({ machineId, err: detail }, 'fault refund failed');
      try {
        this.o.ledger.appendAlert({ code: 'fault_refund_failed', message: detail, machineId });
      } catch (alertErr) {
        this.log.error({ err: alertErr instanceof Error ? alertErr.message : String(alertErr) }, 'fault refund alert not stored either');
      }
    }
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  private onState(e: StateEvent): void {
    const s = e.state;
    const was = e.previous?.status ?? null;
    if (IN_CYCLE.has(s.status) && (was === null || was === 'offline')) this.cycleSeenUnderWay(s);
    else if (s.status === 'running' && (was === null || !IN_CYCLE.has(was))) this.cycleStarted(s);
    else if (IN_CYCLE.has(s.status)) this.stretch(s);
    else if (s.status === 'fault' && was !== null && IN_CYCLE.has(was)) this.faulted(s);
    else if (s.status === 'fault' && (was === null || was === 'offline')) this.faultNotSeen(s);
    else if (s.status === 'idle' || s.status === 'done' || s.status === 'offline' || s.status === 'credited') {
      // offline: the cycle may go on, but its end cannot be seen; keep the binding for a fault after.
      if (s.status !== 'offline') this.cycles.delete(s.machineId);
    }
  }

  /** The paid cycle bound to a running or paused machine, if a vend of ours paid it. */
  cycleOf(machineId: string): Readonly<Cycle> | undefined {
    return this.cycles.get(machineId);
  }

  /**
   * The vend that credited a machine not started yet: the latest captured vend on it, not bound
   * to a cycle, not refunded, captured after its last cycle started (within the slack after a
   * restart). Add-time vends (no machine kind) never count: they buy minutes, not a cycle. A vend
   * refunded in part (an operator) still credited the machine: it counts, at what is left.
   */
  creditedVend(machineId: string, nowMs: number, durationSec = 0): { vendId: string; paidCents: number; accountId: string | null } | undefined {
    const since = this.lastStart.get(machineId);
    const slack = this.o.slackMs;
    const v = this.o.ledger
      .recentVends(this.o.searchVends)
      .find(
        (x) =>
          x.machineId === machineId &&
          x.state === 'captured' &&
          x.machineKind !== null &&
          !this.bound.has(x.vendId) &&
          (x.finishedMs ?? 0) <= nowMs &&
          (x.finishedMs ?? 0) >= (since ?? nowMs - durationSec * 1000 - slack) &&
          notRefundedInFull(this.o.ledger.capturedRefundOf(x.vendId), x.capturedCents ?? 0),
      );
    // What is left of it: an operator may have given part back already.
    return v ? { vendId: v.vendId, paidCents: (v.capturedCents ?? 0) - (this.o.ledger.capturedRefundOf(v.vendId) ?? 0), accountId: v.accountId } : undefined;
  }

  /**
   * An add-time vend captured on a machine in a cycle of ours: it is part of that cycle's money.
   * cycleVendId: the vend of the cycle it was bought for (cycleOf when the command claimed the
   * machine). When that cycle faulted while the add-time was being read back and captured, the
   * machine had taken the minutes before the fault (an LW-485 refuses ADD_TIME in FAULT), so they
   * get the same unused share back now, as they would have with the fault a moment later.
   */
  addToCycle(machineId: string, vendId: string, paidCents: number, cycleVendId?: string): void {
    const c = this.cycles.get(machineId);
    if (c && (cycleVendId === undefined || c.vendId === cycleVendId)) {
      c.addTimes.push({ vendId, paidCents });
      return;
    }
    const f = this.lastFaulted.get(machineId);
    if (cycleVendId !== undefined && f?.cycle.vendId === cycleVendId) {
      this.log.info({ machineId, vendId, cycleVendId }, 'add-time captured after its cycle faulted: its unused share back too');
      f.cycle.addTimes.push({ vendId, paidCents });
      this.guarded(machineId, () => this.refundShare(f.state, f.cycle, vendId, paidCents));
      return;
    }
    this.log.info({ machineId, vendId, cycleVendId: cycleVendId ?? null }, 'add-time captured with no cycle of ours under way to join');
  }

  /**
   * A vend captured late (a reconcile or a retry stored it after its credit ran): its machine may
   * already be in the cycle it paid, started while the vend was still unsettled, so no binding was
   * found then. Bound now, as a cycle seen under way.
   */
  vendCaptured(machineId: string, vendId: string): void {
    const s = this.o.machines.state(machineId);
    if (!s || !IN_CYCLE.has(s.status) || this.cycles.has(machineId) || this.bound.has(vendId)) return;
    // Called from the capture path: a ledger read that throws here is logged and alerted, never
    // thrown into the vend that was just stored.
    this.guarded(machineId, () => {
      const v = this.o.ledger.getVend(vendId);
      if (v?.state !== 'captured' || v.machineKind === null) return;
      this.cycleSeenUnderWay(s, { vendId, paidCents: (v.capturedCents ?? 0) - (this.o.ledger.capturedRefundOf(vendId) ?? 0) });
    });
  }

  /** A cycle ended by a refund (a cancel): no fault refund may follow for it. */
  endCycle(machineId: string, vendId: string): void {
    this.bound.add(vendId);
    if (this.cycles.get(machineId)?.vendId === vendId) this.cycles.delete(machineId);
  }

  private cycleStarted(s: MachineState): void {
    const programs = this.o.machines.programs(s.machineId);
    const programMin = s.kind === 'washer' && s.program !== null ? programs.find((p) => p.program === s.program)?.durationMin : undefined;
    const durationSec = Math.max(programMin !== undefined ? programMin * 60 : 0, wholeMinutes(s.remainingSec));
    const unsettled = this.o.ledger.unfinishedVends().some((v) => v.machineId === s.machineId && v.machineKind !== null);
    // An unsettled vend on the machine paid this start (its capture binds it: vendCaptured), not an older one.
    const found = unsettled ? undefined : this.creditedVend(s.machineId, s.observedAt, durationSec);
    this.lastStart.set(s.machineId, s.observedAt);
    const vend = found ? { vendId: found.vendId, capturedCents: found.paidCents } : undefined;
    if (!vend) {
      this.cycles.delete(s.machineId);
      this.log.debug({ machineId: s.machineId }, 'cycle started with no vend of ours to pay it (coin, service or remote start)');
      return;
    }
    this.bound.add(vend.vendId);
    this.cycles.set(s.machineId, { vendId: vend.vendId, paidCents: vend.capturedCents ?? 0, durationSec, addTimes: [] });
  }

  /**
   * A cycle first seen under way: at start-up (the gateway restarted mid-cycle), back from offline,
   * a unit found late. A binding this run has is kept; otherwise the vend that paid it is found as
   * at a start. A washer's length is its program's. A dryer's is not known (the minutes bought are
   * not stored): the remaining time alone would understate it and a fault would give back more
   * than the unused share, so it is taken as the time since that vend's credit was sent plus what
   * remains, which is at least the cycle's length (the cycle started after the credit). paidBy: a
   * vend just captured late (vendCaptured) instead of a search; a search waits while a vend on
   * the machine is unsettled.
   */
  private cycleSeenUnderWay(s: MachineState, paidBy?: { vendId: string; paidCents: number }): void {
    if (this.cycles.has(s.machineId)) {
      this.stretch(s);
      return;
    }
    const programs = this.o.machines.programs(s.machineId);
    const programMin = s.kind === 'washer' && s.program !== null ? programs.find((p) => p.program === s.program)?.durationMin : undefined;
    const longestSec = Math.max(wholeMinutes(s.remainingSec), ...programs.map((p) => (p.durationMin ?? 0) * 60));
    // A vend on the machine not settled yet (a crash between its credit and its capture) is the
    // likelier payer than any older one: the reconcile settles it, and its capture binds the
    // cycle (vendCaptured). Searched now, an older vend whose own cycle ended would be bound.
    if (paidBy === undefined && this.o.ledger.unfinishedVends().some((v) => v.machineId === s.machineId && v.machineKind !== null)) return;
    const found = paidBy ?? this.creditedVend(s.machineId, s.observedAt, longestSec);
    if (!found) {
      this.log.debug({ machineId: s.machineId }, 'cycle under way with no vend of ours to pay it');
      return;
    }
    // The cycle cannot have started before its credit reached the machine.
    const v = this.o.ledger.getVend(found.vendId);
    const creditedAt = v?.creditSentMs ?? v?.finishedMs ?? s.observedAt;
    const sinceCreditSec = Math.max(0, (s.observedAt - creditedAt) / 1000);
    const durationSec = programMin !== undefined ? Math.max(programMin * 60, wholeMinutes(s.remainingSec)) : wholeMinutes(sinceCreditSec + (s.remainingSec ?? 0));
    this.bound.add(found.vendId);
    this.cycles.set(s.machineId, { vendId: found.vendId, paidCents: found.paidCents, durationSec, addTimes: [] });
    this.log.info({ machineId: s.machineId, vendId: found.vendId, durationSec }, 'cycle under way bound to the vend that paid it');
  }

  /**
   * A machine found in FAULT without this run having seen it leave a cycle: at start-up (the fault
   * came while the gateway was down, or its refund could not be stored and the process died with
   * the retry), or back from offline. How far the cycle had run is not known, so no refund is
   * guessed: a paid vend on it with no refund at all is put to the operator as an alert, once per
   * vend and run.
   */
  private faultNotSeen(s: MachineState): void {
    const bound = this.cycles.get(s.machineId);
    this.cycles.delete(s.machineId);
    const longestSec = Math.max(0, ...this.o.machines.programs(s.machineId).map((p) => (p.durationMin ?? 0) * 60));
    const vendId = bound?.vendId ?? this.creditedVend(s.machineId, s.observedAt, longestSec)?.vendId;
    if (vendId === undefined || this.undecided.has(vendId) || this.o.ledger.capturedRefundOf(vendId) !== null) return;
    // Marked told only once stored: an alert the ledger could not write is tried at the next sight.
    this.o.ledger.appendAlert({
      code: 'fault_refund_undecided',
      message: `machine ${s.machineId} is in fault (code ${s.faultCode ?? '?'}) and vend ${vendId} paid on it has no refund; the gateway did not see the cycle end, so check whether it was cut short and, if so, refund it from the status page`,
      machineId: s.machineId,
      vendId,
    });
    this.undecided.add(vendId);
    this.bound.add(vendId);
    this.log.warn({ machineId: s.machineId, vendId, faultCode: s.faultCode }, 'machine in fault with a paid vend this run did not see fault: put to the operator');
  }

  /** A dryer's length is what was bought; a later poll may show more (the first one came late). */
  private stretch(s: MachineState): void {
    const c = this.cycles.get(s.machineId);
    if (c && wholeMinutes(s.remainingSec) > c.durationSec) c.durationSec = wholeMinutes(s.remainingSec);
  }

  private faulted(s: MachineState): void {
    const c = this.cycles.get(s.machineId);
    this.cycles.delete(s.machineId);
    if (!c) {
      this.log.warn({ machineId: s.machineId, faultCode: s.faultCode }, 'cycle faulted; no vend of ours paid it');
      return;
    }
    this.lastFaulted.set(s.machineId, { cycle: c, state: s });
    // The cycle's vend, then each add-time bought during it: the same unused share of each back.
    this.refundShare(s, c, c.vendId, c.paidCents);
    for (const a of c.addTimes) this.refundShare(s, c, a.vendId, a.paidCents);
  }

  private refundShare(s: MachineState, c: Cycle, vendId: string, paidCents: number): void {
    const at = { durationSec: c.durationSec, remainingSec: s.remainingSec ?? 0 };
    const r = faultRefund(this.o.policy, { paidCents, ...at });
    // A vend paid with points gets the same share of its points back.
    const pts = this.o.ledger.capturedPointsOf(vendId);
    const points = pts.points > pts.refundedPoints ? Math.min(pts.points - pts.refundedPoints, faultRefund(this.o.policy, { paidCents: pts.points, ...at }).refundCents) : 0;
    const base = { machineId: s.machineId, vendId, rule: r.rule, elapsedShare: r.elapsedShare };
    if (r.refundCents <= 0 && points <= 0) {
      this.decided.push({ ...base, refundedCents: 0 });
      this.log.info({ ...base, faultCode: s.faultCode }, 'cycle faulted; no refund by policy');
      return;
    }
    const input = { reason: r.reason, amountCents: Math.max(0, r.refundCents), ...(points > 0 ? { points } : {}), detail: { rule: r.rule, elapsedShare: r.elapsedShare, faultCode: s.faultCode, remainingSec: s.remainingSec, durationSec: c.durationSec } };
    let res: ReturnType<Ledger['refundCaptured']>;
    try {
      res = this.o.ledger.refundCaptured(vendId, input);
    } catch (err) {
      // Not stored, so not done: the engine keeps it and retries once the ledger writes again.
      this.log.error({ ...base, err: err instanceof Error ? err.message : String(err) }, 'fault refund not stored: retried later');
      this.o.onRefundNotStored?.(vendId, input, err);
      return;
    }
    if (!res.ok) {
      this.log.warn({ ...base, refused: res.reason }, 'ledger refused the fault refund');
      return;
    }
    this.decided.push({ ...base, refundedCents: r.refundCents });
    this.log.warn({ ...base, refundedCents: r.refundCents, faultCode: s.faultCode }, 'cycle cut short by a fault: refunded');
  }
}

/** A free vend (0 ¢) with no refund still counts; a paid one until all of it was given back. */
function notRefundedInFull(refunded: number | null, captured: number): boolean {
  return refunded === null || refunded < captured;
}

function wholeMinutes(sec: number | null): number {
  return sec === null ? 0 : Math.ceil(sec / 60) * 60;
}

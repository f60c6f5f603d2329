// Fault refunds: a paid cycle that a machine fault cuts short gives money back by the room's
// policy (gateway/vend/fault-refund.ts), through the ledger's refundCaptured (once per vend,
// never above what was captured). Watches the pollers' state events:
//   - a machine entering RUNNING binds the cycle to the vend that paid it: the latest captured
//     vend on that machine, not already bound to an earlier cycle, captured before the start;
//   - RUNNING/PAUSED -> FAULT refunds per policy, by the remaining time the LW-485 froze at the
//     fault; a fault before the cycle started keeps the credit on the machine: no refund case.
// Cycle length: the program's duration for a washer; the longest remaining time seen in the
// cycle for a dryer, rounded up to whole minutes (minutes are bought whole, and the first poll
// of the cycle comes well within a minute of its start). Coin machines (RIO-8) report no faults.
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
  /** How many recent vends are searched for the one that paid a cycle. */
  searchVends?: number;
  /** After a restart a running cycle is bound only to a vend captured at most this long before it could have started. */
  slackMs?: number;
}

interface Cycle {
  vendId: string;
  paidCents: number;
  durationSec: number;
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
  private readonly log: Logger;
  private off: (() => void) | null = null;
  /** For tests and the status page: what each fault led to. */
  readonly decided: FaultRefundEvent[] = [];

  constructor(private readonly o: FaultWatchOptions) {
    this.log = o.logger.child({ component: 'fault-refund' });
  }

  start(): void {
    if (this.off) return;
    this.off = this.o.machines.onState((e) => {
      try {
        this.onState(e);
      } catch (err) {
        // A money path error is never swallowed quietly: it is logged as an error and alerted.
        const detail = err instanceof Error ? err.message : String(err);
        this.log.error({ machineId: e.state.machineId, err: detail }, 'fault refund failed');
        this.o.ledger.appendAlert({ code: 'fault_refund_failed', message: detail, machineId: e.state.machineId });
      }
    });
  }

  stop(): void {
    this.off?.();
    this.off = null;
  }

  private onState(e: StateEvent): void {
    const s = e.state;
    const was = e.previous?.status ?? null;
    if (s.status === 'running' && (was === null || !IN_CYCLE.has(was))) this.cycleStarted(s);
    else if (IN_CYCLE.has(s.status)) this.stretch(s);
    else if (s.status === 'fault' && was !== null && IN_CYCLE.has(was)) this.faulted(s);
    else if (s.status === 'idle' || s.status === 'done' || s.status === 'offline' || s.status === 'credited') {
      // offline: the cycle may go on, but its end cannot be seen; keep the binding for a fault after.
      if (s.status !== 'offline') this.cycles.delete(s.machineId);
    }
  }

  private cycleStarted(s: MachineState): void {
    const since = this.lastStart.get(s.machineId);
    this.lastStart.set(s.machineId, s.observedAt);
    const programs = this.o.machines.programs(s.machineId);
    const programMin = s.kind === 'washer' && s.program !== null ? programs.find((p) => p.program === s.program)?.durationMin : undefined;
    const durationSec = Math.max(programMin !== undefined ? programMin * 60 : 0, wholeMinutes(s.remainingSec));
    const slack = this.o.slackMs ?? 60 * 60_000;
    const vend = this.o.ledger
      .recentVends(this.o.searchVends ?? 200)
      .find(
        (v) =>
          v.machineId === s.machineId &&
          v.state === 'captured' &&
          !this.bound.has(v.vendId) &&
          (v.finishedMs ?? 0) <= s.observedAt &&
          (v.finishedMs ?? 0) >= (since ?? s.observedAt - durationSec * 1000 - slack) &&
          this.o.ledger.capturedRefundOf(v.vendId) === null,
      );
    if (!vend) {
      this.cycles.delete(s.machineId);
      this.log.debug({ machineId: s.machineId }, 'cycle started with no vend of ours to pay it (coin, service or remote start)');
      return;
    }
    this.bound.add(vend.vendId);
    this.cycles.set(s.machineId, { vendId: vend.vendId, paidCents: vend.capturedCents ?? 0, durationSec });
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
    const r = faultRefund(this.o.policy, { paidCents: c.paidCents, durationSec: c.durationSec, remainingSec: s.remainingSec ?? 0 });
    const base = { machineId: s.machineId, vendId: c.vendId, rule: r.rule, elapsedShare: r.elapsedShare };
    if (r.refundCents <= 0) {
      this.decided.push({ ...base, refundedCents: 0 });
      this.log.info({ ...base, faultCode: s.faultCode }, 'cycle faulted; no refund by policy');
      return;
    }
    const res = this.o.ledger.refundCaptured(c.vendId, {
      reason: r.reason,
      amountCents: r.refundCents,
      detail: { rule: r.rule, elapsedShare: r.elapsedShare, faultCode: s.faultCode, remainingSec: s.remainingSec, durationSec: c.durationSec },
    });
    if (!res.ok) {
      this.log.warn({ ...base, refused: res.reason }, 'ledger refused the fault refund');
      return;
    }
    this.decided.push({ ...base, refundedCents: r.refundCents });
    this.log.warn({ ...base, refundedCents: r.refundCents, faultCode: s.faultCode }, 'cycle cut short by a fault: refunded');
  }
}

function wholeMinutes(sec: number | null): number {
  return sec === null ? 0 : Math.ceil(sec / 60) * 60;
}

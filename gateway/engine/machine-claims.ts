// Admission: the engine's claim on each machine. One vend or command at a time per machine; a
// machine with something unsettled on it (a vend, a refund intent) is blocked, since any command
// would move the evidence its settling reads; while the ledger cannot write nothing is claimed.
// The polled state must take a vend (admission.ts); right after a vend it is read afresh.
import type { Clock } from '../core/clock.js';
import { sleep, type Timers } from '../core/timers.js';
import type { MachineState } from '../machines/state.js';
import type { ReasonCode } from '../vend/reasons.js';
import { admissionReason } from './admission.js';
import type { EngineTimings } from './engine-options.js';
import type { LedgerHealth } from './ledger-health.js';
import type { MachineAccess } from './machine-access.js';

export type Claim = { reason: ReasonCode; state: null } | { reason: null; state: MachineState };

export interface MachineClaimsDeps {
  machines: MachineAccess;
  health: Pick<LedgerHealth, 'writable'>;
  clock: Clock;
  timers: Timers;
  timings: Pick<EngineTimings, 'freshReadAfterVendMs' | 'commandWaitPollMs' | 'reconcileReads' | 'commandReadRetryMs'>;
  /** Whether something on the machine is still unsettled (then it stays blocked). */
  stillOpen(machineId: string): boolean;
}

export class MachineClaims {
  private readonly busy = new Set<string>();
  private readonly blocked = new Set<string>();
  /** Monotonic ms when a vend or command last ended on each machine. */
  private readonly lastVendAt = new Map<string, number>();
  private stopping = false;

  constructor(private readonly d: MachineClaimsDeps) {}

  /** No claim is given from now on (the engine stops). */
  stop(): void {
    this.stopping = true;
  }

  get blockedCount(): number {
    return this.blocked.size;
  }

  /** Machines that take no vend until an earlier one is settled; every machine while the ledger cannot write. */
  blockedMachines(): string[] {
    return this.d.health.writable ? [...this.blocked] : this.d.machines.machineIds();
  }

  isBlocked(machineId: string): boolean {
    return this.blocked.has(machineId);
  }

  /** Whether a vend of this run still holds the machine (its session has not ended). */
  isBusy(machineId: string): boolean {
    return this.busy.has(machineId);
  }

  block(machineId: string): void {
    this.blocked.add(machineId);
    this.busy.add(machineId);
  }

  /** Lifts a block unless something on the machine is still unsettled. */
  unblock(machineId: string): void {
    if (this.d.stillOpen(machineId)) return;
    if (this.blocked.delete(machineId)) this.busy.delete(machineId);
  }

  /** A vend or command just ended on the machine: its polled state may predate it for a while. */
  ended(machineId: string): void {
    this.lastVendAt.set(machineId, this.d.clock.monotonic());
  }

  release(machineId: string): void {
    if (!this.blocked.has(machineId)) this.busy.delete(machineId);
  }

  /**
   * admit(), and when a vend ended on the machine moments ago, a fresh read: the last poll may
   * predate that vend (a credited machine still shown idle), and a hold on it would only end in
   * a refund.
   */
  async claimForVend(machineId: string): Promise<Claim> {
    const gate = this.admit(machineId);
    if (gate.reason !== null) return gate;
    const last = this.lastVendAt.get(machineId);
    if (last === undefined || this.d.clock.monotonic() - last > this.d.timings.freshReadAfterVendMs) return gate;
    const read = await this.d.machines.readNow(machineId);
    const state = read.ok ? read.state : null;
    const reason = admissionReason(state);
    if (reason !== null || state === null) {
      this.release(machineId);
      return { reason: reason ?? 'machine_offline', state: null };
    }
    return { reason: null, state };
  }

  /** Claims the machine for one vend from its polled state, or says why it cannot take one now. */
  private admit(machineId: string): Claim {
    if (this.stopping) return { reason: 'machine_busy', state: null };
    if (!this.d.machines.has(machineId)) return { reason: 'not_allowed', state: null };
    if (!this.d.health.writable) return { reason: 'ledger_unavailable', state: null };
    if (this.busy.has(machineId)) return { reason: this.blocked.has(machineId) ? 'vend_unsettled' : 'machine_busy', state: null };
    const state = this.d.machines.state(machineId);
    const reason = admissionReason(state);
    if (reason !== null || state === null) return { reason: reason ?? 'machine_offline', state: null };
    this.busy.add(machineId);
    return { reason: null, state };
  }

  /**
   * Claims a machine for a command that is not a new vend. A vend in progress on it is waited
   * for, up to waitMs; an unsettled one refuses the command, since any command would move the
   * evidence its settling reads (its receipt). Returns a fresh state.
   */
  async claimForCommand(machineId: string, waitMs: number): Promise<Claim> {
    const until = this.d.clock.monotonic() + waitMs;
    for (;;) {
      if (this.stopping) return { reason: 'machine_busy', state: null };
      if (!this.d.machines.has(machineId)) return { reason: 'not_allowed', state: null };
      if (!this.d.health.writable) return { reason: 'ledger_unavailable', state: null };
      if (this.blocked.has(machineId)) return { reason: 'vend_unsettled', state: null };
      if (!this.busy.has(machineId)) break;
      if (this.d.clock.monotonic() >= until) return { reason: 'machine_busy', state: null };
      await sleep(this.d.timers, this.d.timings.commandWaitPollMs);
    }
    this.busy.add(machineId);
    // One lost reply on a busy bus is no reason to refuse the command: ask again, as a reconcile does.
    for (let tries = this.d.timings.reconcileReads; ; ) {
      const read = await this.d.machines.readNow(machineId);
      if (read.ok) return { reason: null, state: read.state };
      if (--tries <= 0) break;
      await sleep(this.d.timers, this.d.timings.commandReadRetryMs);
    }
    this.release(machineId);
    return { reason: 'machine_offline', state: null };
  }
}

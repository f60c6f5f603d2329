// The vend engine: carries out what the pure vend state machine decides. A swipe or a scan
// becomes a session; the engine prices it, asks the risk rules, writes the hold (one ledger
// transaction, before any byte goes to the machine), records the command's evidence before the
// command leaves, sends it, reads the machine back and captures or refunds. One vend at a time
// per machine. At start-up every unfinished vend is settled by asking its machine.
import type { Clock } from '../core/clock.js';
import { sleep, systemTimers, type Timers } from '../core/timers.js';
import { engineTimings, type EngineTimings, type EngineTimingsInput } from './engine-options.js';
import { maskUid, type Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import type { MachineState } from '../machines/state.js';
import type { PriceRules } from '../vend/pricing-schema.js';
import { recordOutcome, type RiskConfig, type RiskState } from '../vend/risk.js';
import { loadRiskState, saveRiskState } from './risk-store.js';
import { countsAsFailure, type ReasonCode } from '../vend/reasons.js';
import { createVendSession, recoverVendSession, stepVend, type VendEvent, type VendRequest, type VendSession } from '../vend/vend-machine.js';
import type { MachineAccess } from './machine-access.js';
import type { VendOutcome } from './vend-outcome.js';
import { admissionReason, chooseProgram } from './admission.js';
import { FaultWatch } from './fault-watch.js';
import { authorize, readerOf, vendMethodOf, type Payer } from './authorize.js';
import { isSqliteError, LedgerHealth } from './ledger-health.js';
import { PendingRefunds } from './pending-refunds.js';
import { RefundIntents } from './refund-intents.js';
import { MachineCommandRunner } from './machine-commands.js';
import { reconcileEvent } from './reconcile-verdict.js';
import { faultRefundPolicySchema, type FaultRefundPolicy } from '../vend/fault-refund.js';
import { ledgerWrite, performAction, type ActionContext, type ActionDeps, type VendContext } from './actions.js';

export interface VendEngineOptions {
  roomId: string;
  ledger: Ledger;
  machines: MachineAccess;
  pricing: PriceRules;
  risk: RiskConfig;
  /** Cents not yet acknowledged by the cloud, for one account and for the room (offline exposure). */
  exposure: (accountId: string | null) => { accountCents: number; roomCents: number };
  logger: Logger;
  clock: Clock;
  /** What a fault that cuts a paid cycle short gives back; default: the schema's defaults. */
  faultRefund?: FaultRefundPolicy;
  /** Every delay, timeout and retry count (engine-options.ts has the defaults). */
  timings?: EngineTimingsInput;
  /** The engine's timers, beside the clock; default: the system's. */
  timers?: Timers;
}

export type { VendOutcome } from './vend-outcome.js';

export class VendEngine {
  private readonly log: Logger;
  private readonly busy = new Set<string>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly blocked = new Set<string>();
  /** Monotonic ms when this engine last finished a vend on each machine. */
  private readonly lastVendAt = new Map<string, number>();
  /** Persisted in the ledger after each change (risk-store.ts); cards keyed by ledger.cardKey. */
  private risk: RiskState;
  private stopping = false;
  private reconciling = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly timings: EngineTimings;
  private readonly timers: Timers;

  private actionDeps: ActionDeps;
  /** Refunds paid cycles cut short by a machine fault. */
  readonly faults: FaultWatch;
  /** Whether the ledger writes; while it does not, no new vend or command is taken. */
  readonly health: LedgerHealth;
  /** Sessions whose capture or refund the ledger did not store: retried, their machine blocked. */
  private readonly unsettled = new Map<string, { session: VendSession; ctx: ActionContext }>();
  /** Unfinished vends this run already filed a vend_unsettled alert for. */
  private readonly alertedOpen = new Set<string>();
  /** Account vends of this run from authorisation to their end (usage counts them: authorize.ts). */
  private readonly accountVends = new Set<{ accountId: string; kind: 'washer' | 'dryer'; vendId: string | null }>();
  /** Refunds of captured vends (fault, cancel, operator) the ledger did not store: retried. */
  readonly pendingRefunds: PendingRefunds;
  /** Refunds stored before their command went to the machine (an app cancel), settled by its answer. */
  readonly intents: RefundIntents;
  /** The app's and the operator's machine commands, under this engine's claim on each machine. */
  readonly commands: MachineCommandRunner;

  /** Prices and risk limits in force: from the config file, then from signed cloud configs. */
  private rules: { pricing: PriceRules; risk: RiskConfig };

  constructor(private readonly o: VendEngineOptions) {
    this.rules = { pricing: o.pricing, risk: o.risk };
    this.timings = engineTimings(o.timings);
    this.timers = o.timers ?? systemTimers;
    this.log = o.logger.child({ component: 'vend' });
    this.health = new LedgerHealth(this.log, () => o.clock.now());
    this.actionDeps = { ledger: o.ledger, machines: o.machines, floorCents: o.risk.funds.floorCents, readbackDelayMs: this.timings.readbackDelayMs, timers: this.timers, log: this.log, health: this.health };
    this.pendingRefunds = new PendingRefunds(o.ledger, this.actionDeps);
    this.intents = new RefundIntents({ ledger: o.ledger, machines: o.machines, deps: this.actionDeps, log: this.log });
    this.faults = new FaultWatch({
      ledger: o.ledger,
      machines: o.machines,
      policy: o.faultRefund ?? faultRefundPolicySchema.parse({}),
      logger: o.logger,
      slackMs: this.timings.faultSlackMs,
      searchVends: this.timings.faultSearchVends,
      onRefundNotStored: (vendId, input, err) => {
        if (isSqliteError(err)) this.health.failed(err, 'refundCaptured');
        this.pendingRefunds.add(vendId, input);
      },
    });
    this.commands = new MachineCommandRunner({ engine: this, ledger: o.ledger, machines: o.machines, policy: o.faultRefund ?? faultRefundPolicySchema.parse({}), log: this.log, now: () => o.clock.now() });
    // Loaded before any swipe can come: a lockout outlives a restart.
    this.risk = loadRiskState(o.ledger, o.risk, o.clock.now(), this.log);
  }

  /**
   * Settles unfinished vends by their machine's answer: those a crash left behind, and those whose
   * machine went silent mid-vend. A machine with an unsettled vend takes no new vend, since a new
   * command would overwrite the evidence (a device's last command, a counter) the old one is settled by.
   */
  async reconcileUnfinished(): Promise<{ settled: number; open: string[] }> {
    const open: string[] = [];
    let settled = 0;
    // First what this run already knows: a confirmed credit whose capture was not stored is
    // captured again without asking the machine (it ran it); a refund not stored is refunded again.
    for (const [vendId, u] of [...this.unsettled]) {
      const session = await this.drive(u.session, { type: 'retry' }, u.ctx);
      if (session.state === 'captured' || session.state === 'refunded') {
        settled++;
        this.unsettled.delete(vendId);
        this.unblock(u.ctx.machineId);
        this.log.info({ vendId, machineId: u.ctx.machineId, state: session.state }, 'vend settled on retry');
      } else {
        this.unsettled.set(vendId, { session, ctx: u.ctx });
        open.push(vendId);
      }
    }
    this.pendingRefunds.retry();
    // Refunds planned before a command (an app cancel) whose settle a crash or a failed write left.
    const hadIntents = this.intents.openMachines();
    const intentMachines = await this.intents.settleOpen();
    for (const m of intentMachines) this.block(m);
    for (const m of hadIntents) if (!intentMachines.has(m)) this.unblock(m);
    for (const v of this.o.ledger.unfinishedVends()) {
      if (this.unsettled.has(v.vendId)) continue;
      if (this.busy.has(v.machineId) && !this.blocked.has(v.machineId)) continue; // its own session is still running
      const request: VendRequest = { machineId: v.machineId, command: 'credit', program: v.program ?? 0 };
      let session = recoverVendSession({ vendId: v.vendId, request, amountCents: v.amountCents, evidence: v.creditEvidence, creditSent: v.state === 'credit_sent' });
      const verdictEvent = await reconcileEvent({ ledger: this.o.ledger, machines: this.o.machines, clock: this.o.clock, timers: this.timers, logger: this.log, timings: this.timings }, v.state, v.machineId, v.creditEvidence);
      session = await this.drive(session, verdictEvent, { declineRecorded: true, machineId: v.machineId });
      const verdict = verdictEvent.type === 'crash-recovery' ? verdictEvent.verdict : null;
      if (session.state === 'capturing' || session.state === 'refunding') this.unsettled.set(v.vendId, { session, ctx: { declineRecorded: true, machineId: v.machineId } });
      if (session.state === 'captured' || session.state === 'refunded') {
        settled++;
        // The polled state may predate the settle (a train still running): read afresh before the next vend.
        this.lastVendAt.set(v.machineId, this.o.clock.monotonic());
        this.unblock(v.machineId);
        this.log.info({ vendId: v.vendId, machineId: v.machineId, verdict, state: session.state }, 'unfinished vend settled');
      } else {
        open.push(v.vendId);
        this.block(v.machineId);
        this.log.warn({ vendId: v.vendId, machineId: v.machineId, verdict }, 'unfinished vend still unsettled: machine blocked until it answers');
        // Once per vend and run, for the operator, when the machine did not answer: the money stays
        // held, the machine blocked, until it does (or someone looks at it); nothing is guessed.
        // (A verdict known but not stored is the ledger's outage, alerted by LedgerHealth.)
        if (session.state === 'unresolved' && !this.alertedOpen.has(v.vendId)) {
          this.alertedOpen.add(v.vendId);
          this.safeWrite('appendAlert', () => this.o.ledger.appendAlert({ code: 'vend_unsettled', message: `vend ${v.vendId} (${v.state}) cannot be proven yet: its machine does not answer; held and the machine blocked until it does`, machineId: v.machineId, vendId: v.vendId }));
        }
      }
    }
    return { settled, open };
  }

  /** Settles what a crash left, then keeps retrying unsettled vends while running. */
  async start(): Promise<void> {
    this.faults.start();
    await this.reconcileUnfinished();
    this.retryTimer = this.timers.setInterval(() => void this.retryTick(), this.timings.reconcileEveryMs);
    this.retryTimer.unref();
  }

  /**
   * One turn of the retry timer: while the ledger cannot write, a small probe write tells when it
   * can again (vends then resume, and the outage is filed as an alert); unsettled vends and
   * refunds not stored are tried again.
   */
  async retryTick(): Promise<void> {
    if (this.reconciling) return;
    if (!this.health.writable) this.safeWrite('probe', () => this.o.ledger.setNumberSetting('engine.ledgerProbeMs', this.o.clock.now()));
    if (this.health.writable) this.health.fileOutage((alert) => this.safeWrite('appendAlert', () => this.o.ledger.appendAlert(alert)) !== null);
    if (this.blocked.size === 0 && this.pendingRefunds.size === 0) return;
    this.reconciling = true;
    try {
      await this.reconcileUnfinished();
    } catch (e) {
      this.log.error({ err: e instanceof Error ? e.message : String(e) }, 'reconcile failed');
    } finally {
      this.reconciling = false;
    }
  }

  /** Machines that take no vend until an earlier one is settled; every machine while the ledger cannot write. */
  blockedMachines(): string[] {
    return this.health.writable ? [...this.blocked] : this.o.machines.machineIds();
  }


  private block(machineId: string): void {
    this.blocked.add(machineId);
    this.busy.add(machineId);
  }

  /** A machine stays blocked while it has an unsettled vend (of this run, or in the ledger) or an open refund intent. */
  private unblock(machineId: string): void {
    if (this.intents.hasOpen(machineId)) return;
    for (const u of this.unsettled.values()) if (u.ctx.machineId === machineId) return;
    if (this.blocked.has(machineId) && this.o.ledger.unfinishedVends().some((v) => v.machineId === machineId)) return;
    if (this.blocked.delete(machineId)) this.busy.delete(machineId);
  }

  /** A command left something open on its machine (a refund intent): no vend or command until it is settled. */
  blockMachine(machineId: string): void {
    this.block(machineId);
  }



  /** A card presented at a reader; a secure card's verified SUN counter is spent by the hold or decline. */
  cardSwipe(ev: { readerId: string; uid: string; machineId: string | null; sunCounter?: number }): Promise<VendOutcome> {
    const payer: Payer = { by: 'card', uid: ev.uid, readerId: ev.readerId, ...(ev.sunCounter !== undefined ? { sunCounter: ev.sunCounter } : {}) };
    if (ev.machineId === null) return Promise.resolve(this.declined(payer, 'not_allowed', null));
    return this.track(this.vendOn(ev.machineId, payer, undefined));
  }

  /** A QR vend token already verified by the caller (gateway/engine/qr-vend.ts). */
  tokenVend(v: { readerId: string; machineId: string; program: number | undefined; tokenId: string; expiresAt: number; amountCents: number; accountId?: string }): Promise<VendOutcome> {
    const payer: Payer = { by: 'token', readerId: v.readerId, tokenId: v.tokenId, expiresAt: v.expiresAt, amountCents: v.amountCents, ...(v.accountId !== undefined ? { accountId: v.accountId } : {}) };
    return this.track(this.vendOn(v.machineId, payer, v.program));
  }

  /** One vend on a machine, whoever pays: claim it, authorize, run the session, release it. */
  private async vendOn(machineId: string, payer: Payer, program: number | undefined): Promise<VendOutcome> {
    const gate = await this.claim(machineId);
    if (gate.reason !== null) return this.declined(payer, gate.reason, machineId);
    try {
      return await this.vendClaimed(machineId, gate.state, payer, program);
    } finally {
      this.release(machineId);
    }
  }

  /**
   * The one authorisation path (authorize.ts) and the vend session, on a machine already claimed
   * by the caller: card, QR, and the app's paid start and add-time all come through here.
   */
  async vendClaimed(machineId: string, state: MachineState, payer: Payer, program: number | undefined, addTime?: { minutes: number; command?: NonNullable<VendContext['command']> }): Promise<VendOutcome> {
    const now = this.o.clock.now();
    const prog = program ?? chooseProgram(state, this.o.machines.programs(machineId));
    const auth = authorize(
      { ledger: this.o.ledger, pricing: this.rules.pricing, risk: this.rules.risk, riskState: this.risk, exposure: this.o.exposure, inFlight: (a) => this.accountInFlight(a), now },
      { machineId, payer, program: prog, ...(addTime ? { addTime: { minutes: addTime.minutes } } : {}) },
      state,
    );
    if (!auth.ok) {
      if (auth.alert) this.safeWrite('appendAlert', () => this.o.ledger.appendAlert({ code: auth.alert?.code ?? 'risk', message: auth.alert?.detail ?? '', machineId, detail: { readerId: readerOf(payer) } }));
      return this.declined(payer, auth.reason, machineId, { ...(auth.accountId !== undefined ? { accountId: auth.accountId } : {}), ...(auth.amountCents !== undefined ? { amountCents: auth.amountCents } : {}) });
    }
    const { ctx } = auth;
    if (addTime?.command) ctx.command = addTime.command;
    const mine = ctx.accountId !== undefined && ctx.machineKind !== undefined ? { accountId: ctx.accountId, kind: ctx.machineKind, vendId: null as string | null } : null;
    if (mine) {
      this.accountVends.add(mine);
      ctx.onHeld = (vendId) => {
        mine.vendId = vendId;
      };
    }
    let outcome: VendOutcome;
    try {
      outcome = await this.runVend(ctx, { machineId, command: addTime ? 'add-time' : 'credit', program: prog, ...(ctx.price.minutes !== undefined ? { minutes: ctx.price.minutes } : addTime ? { minutes: addTime.minutes } : {}) });
    } finally {
      if (mine) this.accountVends.delete(mine);
    }
    if (auth.riskKey !== null && (outcome.result === 'captured' || outcome.result === 'unresolved')) {
      this.setRisk(recordOutcome(this.rules.risk, this.risk, { now, cardId: auth.riskKey, readerId: readerOf(payer), outcome: 'vend' }).state, now);
    }
    return outcome;
  }

  /**
   * This account's vends not captured yet, each counted once: authorized and not held yet (this
   * run's, in memory), held or crediting (the ledger's unfinished rows, a crash's included).
   * Captured ones are in the ledger's usage; refunded ones nowhere.
   */
  private accountInFlight(accountId: string): { washer: number; dryer: number } {
    const n = { washer: 0, dryer: 0 };
    for (const v of this.accountVends) if (v.accountId === accountId && v.vendId === null) n[v.kind]++;
    for (const v of this.o.ledger.unfinishedVends()) if (v.accountId === accountId && v.machineKind !== null) n[v.machineKind]++;
    return n;
  }

  /** A decline before any hold: audited when the ledger can write, and counted against a card. */
  private declined(payer: Payer, reason: ReasonCode, machineId: string | null, extra: { accountId?: string; amountCents?: number } = {}): VendOutcome {
    const method = vendMethodOf(payer);
    this.safeWrite('recordDecline', () =>
      this.o.ledger.recordDecline({
        method,
        reason,
        ...(machineId !== null ? { machineId } : {}),
        ...extra,
        ...(payer.by === 'card' ? { cardUid: payer.uid, ...(payer.sunCounter !== undefined ? { sunCounter: payer.sunCounter } : {}) } : {}),
        ...(payer.by === 'token' ? { tokenId: payer.tokenId, amountCents: payer.amountCents } : {}),
        ...(payer.by === 'prepaid' ? { amountCents: payer.amountCents } : {}),
        detail: payer.by === 'account' || payer.by === 'prepaid' ? { commandId: payer.commandId } : { readerId: payer.readerId },
      }),
    );
    const now = this.o.clock.now();
    if (payer.by === 'card' && countsAsFailure(reason)) this.noteFailure(this.o.ledger.cardKey(payer.uid), payer.readerId, now);
    this.log.info({ method, reader: readerOf(payer), ...(payer.by === 'card' ? { card: maskUid(payer.uid) } : {}), machineId, reason }, `${method} vend declined`);
    return { result: 'declined', reason, machineId };
  }

  /**
   * admit(), and when this engine finished a vend on the machine moments ago, a fresh read: the
   * last poll may predate that vend (a credited machine still shown idle), and a hold on it would
   * only end in a refund.
   */
  private async claim(machineId: string): Promise<{ reason: ReasonCode; state: null } | { reason: null; state: MachineState }> {
    const gate = this.admit(machineId);
    if (gate.reason !== null) return gate;
    const last = this.lastVendAt.get(machineId);
    if (last === undefined || this.o.clock.monotonic() - last > this.timings.freshReadAfterVendMs) return gate;
    const read = await this.o.machines.readNow(machineId);
    const state = read.ok ? read.state : null;
    const reason = admissionReason(state);
    if (reason !== null || state === null) {
      this.release(machineId);
      return { reason: reason ?? 'machine_offline', state: null };
    }
    return { reason: null, state };
  }

  /** Claims the machine for one vend, or says why it cannot take one now. */
  private admit(machineId: string): { reason: ReasonCode; state: null } | { reason: null; state: MachineState } {
    if (this.stopping) return { reason: 'machine_busy', state: null };
    if (!this.o.machines.has(machineId)) return { reason: 'not_allowed', state: null };
    if (!this.health.writable) return { reason: 'ledger_unavailable', state: null };
    if (this.busy.has(machineId)) return { reason: this.blocked.has(machineId) ? 'vend_unsettled' : 'machine_busy', state: null };
    const state = this.o.machines.state(machineId);
    const reason = admissionReason(state);
    if (reason !== null || state === null) return { reason: reason ?? 'machine_offline', state: null };
    this.busy.add(machineId);
    return { reason: null, state };
  }

  /**
   * Claims a machine for a command that is not a new vend (the app's start, pause, resume,
   * add-time, cancel; an operator's clear-fault or service mode). A vend in progress on it is
   * waited for, up to waitMs; an unsettled one refuses the command, since any command would move
   * the evidence its settling reads (its receipt). Returns a fresh state.
   */
  async claimForCommand(machineId: string, waitMs = this.timings.commandWaitMs): Promise<{ reason: ReasonCode; state: null } | { reason: null; state: MachineState }> {
    const until = this.o.clock.monotonic() + waitMs;
    for (;;) {
      if (this.stopping) return { reason: 'machine_busy', state: null };
      if (!this.o.machines.has(machineId)) return { reason: 'not_allowed', state: null };
      if (!this.health.writable) return { reason: 'ledger_unavailable', state: null };
      if (this.blocked.has(machineId)) return { reason: 'vend_unsettled', state: null };
      if (!this.busy.has(machineId)) break;
      if (this.o.clock.monotonic() >= until) return { reason: 'machine_busy', state: null };
      await sleep(this.timers, this.timings.commandWaitPollMs);
    }
    this.busy.add(machineId);
    // One lost reply on a busy bus is no reason to refuse the command: ask again, as a reconcile does.
    for (let tries = this.timings.reconcileReads; ; ) {
      const read = await this.o.machines.readNow(machineId);
      if (read.ok) return { reason: null, state: read.state };
      if (--tries <= 0) break;
      await sleep(this.timers, this.timings.commandReadRetryMs);
    }
    this.release(machineId);
    return { reason: 'machine_offline', state: null };
  }

  /** Ends a claim taken by claimForCommand. */
  releaseCommand(machineId: string): void {
    this.lastVendAt.set(machineId, this.o.clock.monotonic());
    this.release(machineId);
  }

  /** Runs one ledger write outside a vend session: a failure marks the ledger unwritable and returns null. */
  safeWrite<T>(op: string, write: () => T): T | null {
    return ledgerWrite(this.actionDeps, op, write);
  }

  private async runVend(ctx: VendContext, request: VendRequest): Promise<VendOutcome> {
    let session = createVendSession(request);
    try {
      session = await this.drive(session, { type: 'begin' }, ctx);
      session = await this.drive(session, { type: 'authorized', amountCents: ctx.price.amountCents }, ctx);
    } finally {
      this.lastVendAt.set(ctx.machineId, this.o.clock.monotonic());
    }
    const vendId = session.vendId;
    if ((session.state === 'capturing' || session.state === 'refunding') && vendId !== null) {
      // The machine's answer is known but the ledger did not store the money step: not done.
      this.unsettled.set(vendId, { session, ctx });
    }
    switch (session.state) {
      case 'captured':
        return { result: 'captured', vendId: vendId ?? '', amountCents: ctx.price.amountCents, machineId: ctx.machineId, program: ctx.program };
      case 'refunded':
        return { result: 'refunded', vendId: vendId ?? '', amountCents: ctx.price.amountCents, machineId: ctx.machineId, reason: session.reason };
      case 'declined':
        return { result: 'declined', reason: session.reason ?? 'internal_error', machineId: ctx.machineId };
      default:
        this.block(ctx.machineId);
        return { result: 'unresolved', vendId: vendId ?? '', machineId: ctx.machineId };
    }
  }

  private release(machineId: string): void {
    if (!this.blocked.has(machineId)) this.busy.delete(machineId);
  }

  /** Feeds one event and then every event the resulting actions produce, until none is left. */
  private async drive(start: VendSession, first: VendEvent, ctx: ActionContext): Promise<VendSession> {
    let session = start;
    const queue: VendEvent[] = [first];
    for (let ev = queue.shift(); ev !== undefined; ev = queue.shift()) {
      const step = stepVend(session, ev);
      if (step.ignored) this.log.debug({ event: ev.type, state: session.state }, 'vend event ignored');
      session = step.session;
      for (const action of step.actions) {
        const next = await performAction(this.actionDeps, action, session, ctx);
        if (next !== null) queue.push(next);
      }
    }
    return session;
  }

  private noteFailure(cardKey: string, readerId: string, now: number): void {
    const r = recordOutcome(this.rules.risk, this.risk, { now, cardId: cardKey, readerId, outcome: 'failure' });
    this.setRisk(r.state, now);
    for (const alert of r.alerts) this.o.ledger.appendAlert({ code: alert.code, message: alert.detail, detail: { readerId } });
  }

  private setRisk(state: RiskState, now: number): void {
    this.risk = saveRiskState(this.o.ledger, this.rules.risk, state, now, this.log);
  }

  /** Something stop() waits for: a vend, or a command that may run one. */
  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
    return p;
  }

  /** New rules apply from the next vend; a vend in flight keeps the price it was held at. */
  updateRules(r: { pricing?: PriceRules; risk?: RiskConfig }): void {
    this.rules = { pricing: r.pricing ?? this.rules.pricing, risk: r.risk ?? this.rules.risk };
    this.actionDeps = { ...this.actionDeps, floorCents: this.rules.risk.funds.floorCents };
    this.log.info({ pricing: this.rules.pricing.version }, 'vend rules updated');
  }

  /** Refuses new vends and waits for those in flight: none is left half-done. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.faults.stop();
    if (this.retryTimer) this.timers.clearInterval(this.retryTimer);
    await Promise.allSettled([...this.inFlight]);
  }
}


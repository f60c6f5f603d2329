// The vend engine: carries out what the pure vend state machine decides. A swipe, a scan or a
// paid app command becomes a session: the machine is claimed (machine-claims.ts), the one
// authorisation path prices it and asks the risk rules (authorize.ts), the session holds, credits
// with its evidence written first, reads back and captures or refunds (vend-session.ts), and
// what is left unfinished is settled by asking the machine (unsettled-vends.ts). This file wires
// those parts and keeps the authorisation glue: the decline audit, the risk state, the account's
// vends in flight. One vend at a time per machine.
import type { Clock } from '../core/clock.js';
import { systemTimers, type Timers } from '../core/timers.js';
import { maskUid, type Logger } from '../core/log.js';
import type { Ledger } from '../../storage/index.js';
import type { MachineState } from '../machines/state.js';
import type { PriceRules } from '../vend/pricing-schema.js';
import { pruneRiskState, recordOutcome, type RiskConfig, type RiskState } from '../vend/risk.js';
import { countsAsFailure, type ReasonCode } from '../vend/reasons.js';
import { faultRefundPolicySchema, type FaultRefundPolicy } from '../vend/fault-refund.js';
import { ledgerWrite, type ActionDeps, type VendContext } from './actions.js';
import { chooseProgram } from './admission.js';
import { authorize, readerOf, vendMethodOf, type Payer } from './authorize.js';
import { engineTimings, type EngineTimings, type EngineTimingsInput } from './engine-options.js';
import { FaultWatch } from './fault-watch.js';
import { isSqliteError, LedgerHealth } from './ledger-health.js';
import type { MachineAccess } from './machine-access.js';
import { MachineClaims, type Claim } from './machine-claims.js';
import { MachineCommandRunner } from './machine-commands.js';
import { PendingRefunds } from './pending-refunds.js';
import { RefundIntents } from './refund-intents.js';
import { loadRiskState, saveRiskState } from './risk-store.js';
import { UnsettledVends } from './unsettled-vends.js';
import type { VendOutcome } from './vend-outcome.js';
import { runVend, type RunVendDeps } from './vend-session.js';

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
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Persisted in the ledger after each change (risk-store.ts; a captured vend's with its capture); cards keyed by ledger.cardKey. */
  private risk: RiskState;
  private reconciling = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly timings: EngineTimings;
  private readonly timers: Timers;

  private actionDeps: ActionDeps;
  /** Admission: the claim on each machine, the blocked ones. */
  private readonly claims: MachineClaims;
  /** Reconciling: unfinished vends and captures or refunds the ledger did not store. */
  private readonly unsettled: UnsettledVends;
  /** Refunds paid cycles cut short by a machine fault. */
  readonly faults: FaultWatch;
  /** Whether the ledger writes; while it does not, no new vend or command is taken. */
  readonly health: LedgerHealth;
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
    this.actionDeps = { ledger: o.ledger, machines: o.machines, floorCents: o.risk.funds.floorCents, readbackDelayMs: this.timings.readbackDelayMs, timers: this.timers, log: this.log, health: this.health, captured: (machineId, vendId) => this.faults.vendCaptured(machineId, vendId) };
    this.pendingRefunds = new PendingRefunds(o.ledger, this.actionDeps);
    this.intents = new RefundIntents({ ledger: o.ledger, machines: o.machines, deps: this.actionDeps, log: this.log, clock: o.clock, timers: this.timers });
    this.claims = new MachineClaims({
      machines: o.machines,
      health: this.health,
      clock: o.clock,
      timers: this.timers,
      timings: this.timings,
      // A machine stays blocked while it has an unsettled vend (of this run, or in the ledger) or an open refund intent.
      stillOpen: (m) => this.intents.hasOpen(m) || this.unsettled.hasOn(m) || (this.claims.isBlocked(m) && o.ledger.unfinishedVends().some((v) => v.machineId === m)),
    });
    this.unsettled = new UnsettledVends({
      ledger: o.ledger,
      claims: this.claims,
      intents: this.intents,
      pendingRefunds: this.pendingRefunds,
      reconcile: { ledger: o.ledger, machines: o.machines, clock: o.clock, timers: this.timers, logger: this.log, timings: this.timings },
      actions: () => this.actionDeps,
      vendMachine: { maxReadbacks: this.timings.maxReadbacks },
      log: this.log,
      safeWrite: (op, write) => this.safeWrite(op, write),
      captured: (machineId, vendId) => this.faults.vendCaptured(machineId, vendId),
    });
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
   * machine went silent mid-vend (unsettled-vends.ts).
   */
  reconcileUnfinished(): Promise<{ settled: number; open: string[] }> {
    return this.unsettled.reconcileUnfinished();
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
   * refunds not stored are tried again. stop() waits for a turn under way (it may be waiting out
   * a result window), so what it settles is stored before the buses and the ledger close.
   */
  retryTick(): Promise<void> {
    return this.track(this.retryTurn());
  }

  private async retryTurn(): Promise<void> {
    if (this.reconciling) return;
    if (!this.health.writable) this.safeWrite('probe', () => this.o.ledger.setNumberSetting('engine.ledgerProbeMs', this.o.clock.now()));
    if (this.health.writable) this.health.fileOutage((alert) => this.safeWrite('appendAlert', () => this.o.ledger.appendAlert(alert)) !== null);
    if (this.claims.blockedCount === 0 && this.pendingRefunds.size === 0) return;
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
    return this.claims.blockedMachines();
  }

  /** A command left something open on its machine (a refund intent): no vend or command until it is settled. */
  blockMachine(machineId: string): void {
    this.claims.block(machineId);
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
    const gate = await this.claims.claimForVend(machineId);
    if (gate.reason !== null) return this.declined(payer, gate.reason, machineId);
    try {
      return await this.vendClaimed(machineId, gate.state, payer, program);
    } finally {
      this.claims.release(machineId);
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
    // A captured vend's risk state goes into the capture's transaction; riskApplied says it did
    // (if not, or the vend is unresolved, it is saved below on its own).
    const riskKey = auth.riskKey;
    let riskApplied = false;
    if (riskKey !== null) {
      ctx.riskOnCapture = {
        next: () => pruneRiskState(this.rules.risk, recordOutcome(this.rules.risk, this.risk, { now, cardId: riskKey, readerId: readerOf(payer), outcome: 'vend' }).state, now),
        captured: (state) => {
          this.risk = state;
          riskApplied = true;
        },
      };
    }
    let outcome: VendOutcome;
    try {
      outcome = await runVend(this.sessionDeps(), ctx, { machineId, command: addTime ? 'add-time' : 'credit', program: prog, ...(ctx.price.minutes !== undefined ? { minutes: ctx.price.minutes } : addTime ? { minutes: addTime.minutes } : {}) });
    } finally {
      if (mine) this.accountVends.delete(mine);
    }
    if (riskKey !== null && !riskApplied && (outcome.result === 'captured' || outcome.result === 'unresolved')) {
      this.setRisk(recordOutcome(this.rules.risk, this.risk, { now, cardId: riskKey, readerId: readerOf(payer), outcome: 'vend' }).state, now);
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
   * Claims a machine for a command that is not a new vend (the app's start, pause, resume,
   * add-time, cancel; an operator's clear-fault or service mode): machine-claims.ts. Returns a
   * fresh state.
   */
  claimForCommand(machineId: string, waitMs = this.timings.commandWaitMs): Promise<Claim> {
    return this.claims.claimForCommand(machineId, waitMs);
  }

  /** Ends a claim taken by claimForCommand. */
  releaseCommand(machineId: string): void {
    this.claims.ended(machineId);
    this.claims.release(machineId);
  }

  /** Runs one ledger write outside a vend session: a failure marks the ledger unwritable and returns null. */
  safeWrite<T>(op: string, write: () => T): T | null {
    return ledgerWrite(this.actionDeps, op, write);
  }

  private sessionDeps(): RunVendDeps {
    return { actions: () => this.actionDeps, vendMachine: { maxReadbacks: this.timings.maxReadbacks }, log: this.log, claims: this.claims, keepUnsettled: (vendId, session, ctx) => this.unsettled.keep(vendId, session, ctx) };
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
    this.claims.stop();
    this.faults.stop();
    if (this.retryTimer) this.timers.clearInterval(this.retryTimer);
    await Promise.allSettled([...this.inFlight]);
  }
}

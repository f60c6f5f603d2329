// One vend session as a state machine with no I/O, after MDB cashless vend sessions and zwave-js's
// SerialAPICommandMachine: the vend engine does the ledger writes and the bus commands, feeds
// what happened back as events, and carries out the actions returned. All money rules live here,
// so every path (lost replies, timeouts, crashes) is tested without a port or a database.
//
// The rules that matter:
// - capture only on the machine's own confirmation (a read-back or a reconcile verdict);
// - the credit command is sent at most once per vend; after an unknown outcome only read-backs;
// - a refund needs the device's word that the credit did not execute (or was rejected, or was
//   never sent); where that word cannot be had, the vend stays unresolved, never guessed;
// - a capture or a refund is done only once the ledger says it is stored ('captured', 'refunded'
//   events): a failed write leaves the session capturing or refunding, and the engine retries
//   ('retry') with the machine blocked. A confirmed credit is never turned into a refund.
import { z } from 'zod';
import { reasonForRejection, type ReasonCode } from './reasons.js';

export const vendMachineOptionsSchema = z.object({
  /** Read-backs after an accepted or unknown credit before the vend is left unresolved. */
  maxReadbacks: z.number().int().min(1).max(100).default(5),
});
export type VendMachineOptions = z.infer<typeof vendMachineOptionsSchema>;
export const defaultVendMachineOptions: Readonly<VendMachineOptions> = Object.freeze(vendMachineOptionsSchema.parse({}));

export type VendState =
  | 'idle'
  | 'authorizing'
  | 'holding'
  | 'crediting'
  | 'confirming'
  | 'unresolved'
  | 'capturing'
  | 'refunding'
  | 'captured'
  | 'refunded'
  | 'declined';

export const TERMINAL_STATES: ReadonlySet<VendState> = new Set<VendState>(['captured', 'refunded', 'declined']);

export interface VendRequest {
  machineId: string;
  /** add-time buys minutes on a running dryer; the flow is the same. */
  command: 'credit' | 'add-time';
  program: number;
  minutes?: number;
}

/** What a device profile's credit command returns (gateway/profiles/types.ts CommandOutcome fits). */
export type CreditOutcome =
  | { status: 'accepted'; evidence: unknown }
  | { status: 'rejected'; reason: string; deviceCode?: number | null; detail?: string; evidence?: unknown }
  /** evidence, when the profile has it (the seq or counter it used), is what the read-back needs. */
  | { status: 'unknown'; detail: string; evidence?: unknown }
  | { status: 'unsupported' };

/** What a read-back of the machine says about this vend's credit. */
export type ReadbackResult =
  /** The machine shows this credit (LW-485: last seq ours with result 1; RIO-8: the pulses counted). */
  | { verdict: 'confirmed' }
  /** The device answered; the command has not executed yet. Ask again. */
  | { verdict: 'pending' }
  /** The device answered; the command did not and will not execute. */
  | { verdict: 'not-executed' }
  /** The command executed and was rejected. */
  | { verdict: 'rejected'; reason?: string }
  /** No usable answer. */
  | { verdict: 'unknown'; detail: string };

/** The device profile's answer at start-up for an unfinished vend. */
export type ReconcileVerdict = 'executed-accepted' | 'not-executed' | 'executed-rejected' | 'unknown';

export interface VendAlert {
  code: string;
  severity: 'warning' | 'critical';
  detail: string;
}

export type VendEvent =
  | { type: 'begin' }
  | { type: 'authorized'; amountCents: number }
  | { type: 'declined'; reason: ReasonCode; alert?: VendAlert }
  | { type: 'held'; vendId: string }
  | { type: 'credit-outcome'; outcome: CreditOutcome }
  | { type: 'confirm-read'; result: ReadbackResult }
  | { type: 'timeout' }
  | { type: 'machine-offline' }
  | { type: 'error'; detail: string }
  | { type: 'refunded' }
  /** The ledger stored the capture. */
  | { type: 'captured' }
  /** Try again the capture or refund whose ledger write failed. */
  | { type: 'retry' }
  /** evidence: what the reconcile read, when it knows more than the ledger had. */
  | { type: 'crash-recovery'; verdict: ReconcileVerdict; reason?: string; evidence?: unknown };

export type VendAction =
  | { type: 'record-hold'; request: VendRequest; amountCents: number }
  | { type: 'send-credit'; vendId: string; request: VendRequest; amountCents: number }
  | { type: 'mark-credit-sent'; vendId: string; evidence: unknown }
  | { type: 'read-back'; vendId: string; evidence: unknown }
  | { type: 'capture'; vendId: string }
  | { type: 'refund'; vendId: string; reason: ReasonCode }
  | { type: 'record-decline'; reason: ReasonCode }
  | { type: 'alert'; alert: VendAlert };

export interface VendSession {
  readonly state: VendState;
  readonly request: VendRequest;
  readonly vendId: string | null;
  readonly amountCents: number | null;
  /** Decline or refund reason once known; before that, the cause to use if a refund follows. */
  readonly reason: ReasonCode | null;
  readonly evidence: unknown;
  /** How many times send-credit was issued: 0 or 1, by construction. */
  readonly creditsSent: number;
  /** The credit command's own answer has been taken; a second one is a duplicate. */
  readonly creditAnswered: boolean;
  readonly readbacks: number;
}

export interface StepResult {
  session: VendSession;
  actions: VendAction[];
  /** The event has no meaning in this state (a late reply, a duplicate): the driver should log it. */
  ignored: boolean;
}

/** The durable part of an unfinished vend, as the ledger has it after a restart. */
export interface DurableVend {
  vendId: string;
  request: VendRequest;
  amountCents: number;
  evidence: unknown;
  /** The ledger's markCreditSent was written. Informational: the device's verdict decides either way. */
  creditSent: boolean;
}

export function createVendSession(request: VendRequest): VendSession {
  return { state: 'idle', request, vendId: null, amountCents: null, reason: null, evidence: null, creditsSent: 0, creditAnswered: false, readbacks: 0 };
}

/**
 * After a crash every unfinished vend restarts as unresolved, even one whose credit was never
 * marked sent: the crash may have fallen between the wire write and the ledger write. Only a
 * crash-recovery (reconcile) verdict or a read-back moves it on.
 */
export function recoverVendSession(d: DurableVend): VendSession {
  return { state: 'unresolved', request: d.request, vendId: d.vendId, amountCents: d.amountCents, reason: null, evidence: d.evidence, creditsSent: d.creditSent ? 1 : 0, creditAnswered: true, readbacks: 0 };
}

export function isTerminal(state: VendState): boolean {
  return TERMINAL_STATES.has(state);
}

export function stepVend(session: VendSession, event: VendEvent, options: VendMachineOptions = defaultVendMachineOptions): StepResult {
  const ok = (next: Partial<VendSession>, actions: VendAction[] = []): StepResult => ({ session: { ...session, ...next }, actions, ignored: false });
  const ignore = (): StepResult => ({ session, actions: [], ignored: true });
  const decline = (reason: ReasonCode, alert?: VendAlert): StepResult =>
    ok({ state: 'declined', reason }, alert ? [{ type: 'record-decline', reason }, { type: 'alert', alert }] : [{ type: 'record-decline', reason }]);
  const vendId = session.vendId;

  switch (session.state) {
    case 'idle':
      return event.type === 'begin' ? ok({ state: 'authorizing' }) : ignore();

    case 'authorizing':
      switch (event.type) {
        case 'authorized':
          if (!Number.isInteger(event.amountCents) || event.amountCents < 0) {
            return decline('internal_error', { code: 'bad_price', severity: 'critical', detail: `price ${event.amountCents} is not whole non-negative cents` });
          }
          return ok({ state: 'holding', amountCents: event.amountCents }, [{ type: 'record-hold', request: session.request, amountCents: event.amountCents }]);
        case 'declined':
          return decline(event.reason, event.alert);
        case 'timeout':
          return decline('auth_timeout');
        case 'machine-offline':
          return decline('machine_offline');
        case 'error':
          return decline('internal_error', { code: 'vend_error', severity: 'critical', detail: event.detail });
        default:
          return ignore();
      }

    case 'holding':
      switch (event.type) {
        case 'held': {
          if (event.vendId.length === 0 || session.amountCents === null) return ignore();
          // The machine went away while the hold was being written: nothing was sent, refund now.
          if (session.reason !== null) {
            return ok({ state: 'refunding', vendId: event.vendId }, [{ type: 'refund', vendId: event.vendId, reason: session.reason }]);
          }
          return ok({ state: 'crediting', vendId: event.vendId, creditsSent: session.creditsSent + 1 }, [
            { type: 'send-credit', vendId: event.vendId, request: session.request, amountCents: session.amountCents },
          ]);
        }
        // The ledger refused the hold (funds moved meanwhile) or failed before writing it.
        case 'declined':
          return decline(event.reason, event.alert);
        case 'error':
          return decline('internal_error', { code: 'hold_failed', severity: 'critical', detail: event.detail });
        case 'machine-offline':
          return ok({ reason: 'machine_offline' });
        default:
          return ignore();
      }

    case 'crediting': {
      if (vendId === null) return ignore();
      switch (event.type) {
        case 'credit-outcome': {
          const o = event.outcome;
          if (o.status === 'accepted') {
            return ok({ state: 'confirming', evidence: o.evidence, creditAnswered: true, readbacks: 1 }, [
              { type: 'mark-credit-sent', vendId, evidence: o.evidence },
              { type: 'read-back', vendId, evidence: o.evidence },
            ]);
          }
          const answered = { ...session, creditAnswered: true };
          if (o.status === 'rejected') return refund(answered, vendId, reasonForRejection(o.reason));
          if (o.status === 'unsupported') return refund(answered, vendId, 'command_unsupported');
          return uncertain(o.evidence === undefined ? answered : { ...answered, evidence: o.evidence }, vendId, 'credit_timeout', o.detail);
        }
        // Each of these may have come after the frame left: the credit may be on the machine.
        case 'timeout':
          return uncertain(session, vendId, 'credit_timeout', 'no answer to the credit command');
        case 'machine-offline':
          return uncertain(session, vendId, 'machine_offline', 'machine went offline while crediting');
        case 'error':
          return uncertain(session, vendId, 'internal_error', event.detail);
        default:
          return ignore();
      }
    }

    case 'confirming':
    case 'unresolved': {
      if (vendId === null) return ignore();
      if (event.type === 'confirm-read') return onReadback(session, vendId, event.result, options);
      if (event.type === 'crash-recovery') return onReconcile(event.evidence === undefined ? session : { ...session, evidence: event.evidence }, vendId, event.verdict, event.reason);
      if (event.type === 'credit-outcome') return session.creditAnswered ? ignore() : onLateOutcome(session, vendId, event.outcome);
      if (session.state === 'unresolved') return ignore();
      if (event.type === 'timeout' || event.type === 'error') {
        return onReadback(session, vendId, { verdict: 'unknown', detail: event.type === 'error' ? event.detail : 'read-back timed out' }, options);
      }
      if (event.type === 'machine-offline') return unresolved(session, vendId, 'machine went offline before confirming the credit');
      return ignore();
    }

    // A failed ledger write ('error') keeps the state: the money step is not done until stored.
    case 'capturing':
      if (vendId === null) return ignore();
      if (event.type === 'captured') return ok({ state: 'captured' });
      if (event.type === 'retry') return ok({}, [{ type: 'capture', vendId }]);
      return event.type === 'error' ? ok({}) : ignore();

    case 'refunding':
      if (vendId === null) return event.type === 'refunded' ? ok({ state: 'refunded' }) : ignore();
      if (event.type === 'refunded') return ok({ state: 'refunded' });
      if (event.type === 'retry') return ok({}, [{ type: 'refund', vendId, reason: session.reason ?? 'not_executed' }]);
      return event.type === 'error' ? ok({}) : ignore();

    case 'captured':
    case 'refunded':
    case 'declined':
      return ignore();
  }
}

function refund(session: VendSession, vendId: string, reason: ReasonCode): StepResult {
  return { session: { ...session, state: 'refunding', reason }, actions: [{ type: 'refund', vendId, reason }], ignored: false };
}

/** Outcome unknown: read back first, never resend; remember the cause for a possible refund. */
function uncertain(session: VendSession, vendId: string, cause: ReasonCode, detail: string): StepResult {
  return {
    session: { ...session, state: 'confirming', reason: cause, readbacks: 1 },
    actions: [
      { type: 'alert', alert: { code: 'credit_outcome_unknown', severity: 'warning', detail } },
      { type: 'read-back', vendId, evidence: session.evidence },
    ],
    ignored: false,
  };
}

function unresolved(session: VendSession, vendId: string, detail: string): StepResult {
  return {
    session: { ...session, state: 'unresolved' },
    actions: [{ type: 'alert', alert: { code: 'vend_unresolved', severity: 'critical', detail: `vend ${vendId}: ${detail}; held until the machine answers` } }],
    ignored: false,
  };
}

function onReadback(session: VendSession, vendId: string, r: ReadbackResult, options: VendMachineOptions): StepResult {
  switch (r.verdict) {
    case 'confirmed':
      return { session: { ...session, state: 'capturing', reason: null }, actions: [{ type: 'capture', vendId }], ignored: false };
    case 'not-executed':
      return refund(session, vendId, session.reason ?? 'not_executed');
    case 'rejected':
      return refund(session, vendId, reasonForRejection(r.reason));
    case 'pending':
    case 'unknown':
      if (session.state === 'unresolved') return { session, actions: [], ignored: false };
      if (session.readbacks >= options.maxReadbacks) {
        return unresolved(session, vendId, r.verdict === 'pending' ? 'credit still pending after every read-back' : `read-back failed: ${r.detail}`);
      }
      return { session: { ...session, readbacks: session.readbacks + 1 }, actions: [{ type: 'read-back', vendId, evidence: session.evidence }], ignored: false };
  }
}

/**
 * The credit command's answer arriving after the engine's watchdog gave up on it. It is still the
 * device's own word about the one command sent: a rejection ends the vend; an acceptance is
 * recorded (its evidence is what read-backs and a later reconcile need) but the capture still
 * waits for a read-back.
 */
function onLateOutcome(session: VendSession, vendId: string, o: CreditOutcome): StepResult {
  const answered = { ...session, creditAnswered: true };
  switch (o.status) {
    case 'accepted':
      return { session: { ...answered, evidence: o.evidence }, actions: [{ type: 'mark-credit-sent', vendId, evidence: o.evidence }], ignored: false };
    case 'rejected':
      return refund(answered, vendId, reasonForRejection(o.reason));
    case 'unsupported':
      return refund(answered, vendId, 'command_unsupported');
    case 'unknown':
      return { session: o.evidence === undefined || session.evidence !== null ? answered : { ...answered, evidence: o.evidence }, actions: [], ignored: false };
  }
}

function onReconcile(session: VendSession, vendId: string, verdict: ReconcileVerdict, reason: string | undefined): StepResult {
  switch (verdict) {
    case 'executed-accepted':
      return { session: { ...session, state: 'capturing', reason: null }, actions: [{ type: 'capture', vendId }], ignored: false };
    case 'not-executed':
      return refund(session, vendId, session.reason ?? 'not_executed');
    case 'executed-rejected':
      return refund(session, vendId, reasonForRejection(reason));
    case 'unknown':
      // Never guess: stay unresolved and let the engine ask again later.
      return { session: { ...session, state: 'unresolved' }, actions: [], ignored: false };
  }
}

// Operator actions behind the bearer token. Every attempt is audited: done, failed, and refused
// (no or wrong token) alike, through ledger alerts so the cloud sees them too. Refusals are
// audited through a rate limit, so an anonymous flood cannot grow the ledger without bound.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import { maskUid, type Logger } from '../core/log.js';
import { HttpError, bearerToken, clientAddress, parseBody, readJson, tokenMatches } from './http.js';
import type { WebCounters } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import type { ActionOutcome, StatusSource } from './status-source.js';

export const ACTION_NAMES = ['block-card', 'refund', 'service-mode', 'clear-fault'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

const machineId = z.string().min(1).max(64);
export const actionBodySchemas = {
  'block-card': z.strictObject({ uid: z.string().regex(/^[0-9A-Fa-f]{4,32}$/, 'card UID must be 4 to 32 hexadecimal digits') }),
  refund: z.strictObject({ vendId: z.string().min(1).max(64), reason: z.string().min(1).max(64).default('operator_refund') }),
  'service-mode': z.strictObject({ machineId, on: z.boolean() }),
  'clear-fault': z.strictObject({ machineId }),
} as const;


export interface ActionsDeps {
  source: StatusSource;
  operatorToken: string | undefined;
  counters: WebCounters;
  logger: Logger;
  clock: Clock;
}

export class OperatorActions {
  /** Wrong tokens per client address: past this, every attempt is refused for a while. */
  private readonly failures: RateLimiter;
  private readonly refusalAudit: RateLimiter;
  private suppressed = 0;

  constructor(private readonly d: ActionsDeps) {
    // Per client only: a shared bucket let wrong tokens from ~11 addresses lock every operator
    // out. The table is bounded; a client pushed out of it starts again with a full bucket.
    this.failures = new RateLimiter({ perClient: { capacity: 10, refillMs: 10 * 60_000 }, clock: d.clock, maxClients: 4096 });
    this.refusalAudit = new RateLimiter({ perClient: { capacity: 10, refillMs: 10 * 60_000 }, global: { capacity: 60, refillMs: 10 * 60_000 }, clock: d.clock });
  }

  get enabled(): boolean {
    return this.d.operatorToken !== undefined;
  }

  supported(): { blockCard: boolean; refund: boolean; serviceMode: boolean; clearFault: boolean } {
    return { blockCard: true, refund: true, serviceMode: true, clearFault: true };
  }

  /** Runs one action; every way out is an answer body or an HttpError, each audited. */
  async run(action: ActionName, req: IncomingMessage): Promise<Record<string, unknown>> {
    this.authorize(action, req);
    const client = clientAddress(req);
    let outcome: ActionOutcome;
    let subject: { machineId?: string; vendId?: string; cardMask?: string } = {};
    try {
      const body = await readJson(req);
      switch (action) {
        case 'block-card': {
          const b = parseBody(actionBodySchemas['block-card'], body);
          subject = { cardMask: maskUid(b.uid.toUpperCase()) };
          this.d.source.blockCard(b.uid);
          outcome = { ok: true, detail: { cardMask: subject.cardMask ?? null, status: 'blocked' } };
          break;
        }
        case 'refund': {
          const b = parseBody(actionBodySchemas.refund, body);
          subject = { vendId: b.vendId };
          outcome = this.refund(b.vendId, b.reason);
          break;
        }
        case 'service-mode': {
          const b = parseBody(actionBodySchemas['service-mode'], body);
          subject = { machineId: b.machineId };
          outcome = this.knownMachine(b.machineId) ?? (await this.d.source.setServiceMode(b.machineId, b.on));
          break;
        }
        case 'clear-fault': {
          const b = parseBody(actionBodySchemas['clear-fault'], body);
          subject = { machineId: b.machineId };
          outcome = this.knownMachine(b.machineId) ?? (await this.d.source.clearFault(b.machineId));
          break;
        }
      }
    } catch (e) {
      const err = e instanceof HttpError ? e : new HttpError(500, 'internal', 'the action failed inside the gateway');
      if (!(e instanceof HttpError)) this.d.logger.error({ action, err: e instanceof Error ? e.message : String(e) }, 'web: operator action failed');
      this.audit(action, err.code, { ...subject, client, why: err.reason });
      throw err;
    }
    const result = outcome.ok ? 'done' : outcome.error;
    this.audit(action, result, { ...subject, client, why: outcome.ok ? null : outcome.reason });
    if (!outcome.ok) throw new HttpError(outcome.status, outcome.error, outcome.reason);
    return { ok: true, action, ...outcome.detail };
  }

  private refund(vendId: string, reason: string): ActionOutcome {
    const v = this.d.source.getVend(vendId);
    if (!v) return { ok: false, status: 404, error: 'not_found', reason: 'no vend with that id' };
    if (v.state === 'refunded') return { ok: false, status: 409, error: 'already_refunded', reason: 'the vend is already refunded' };
    if (v.state !== 'captured') return { ok: false, status: 409, error: 'in_progress', reason: 'the vend is not finished yet; the vend engine settles it' };
    return this.d.source.refundCaptured(vendId, reason);
  }

  private knownMachine(id: string): ActionOutcome | null {
    return this.d.source.machineIds().includes(id) ? null : { ok: false, status: 404, error: 'not_found', reason: 'no machine with that id in this room' };
  }

  private authorize(action: ActionName, req: IncomingMessage): void {
    const client = clientAddress(req);
    const expected = this.d.operatorToken;
    if (expected === undefined) {
      this.refused(action, client, 'actions are disabled: no operatorToken is configured');
      throw new HttpError(403, 'actions_disabled', 'actions are disabled: no operatorToken is configured');
    }
    const locked = this.failures.admit(client, { peek: true });
    if (!locked.ok) {
      this.d.counters.action(action, 'locked_out');
      this.suppressed += 1; // counted into the next audited refusal, not logged line by line
      throw new HttpError(429, 'too_many_failures', `too many wrong tokens from your address (${client}); no token is checked from it for ${locked.retryAfterSec} s`, {
        'retry-after': String(locked.retryAfterSec),
      });
    }
    const presented = bearerToken(req);
    if (presented !== null && tokenMatches(presented, expected)) return;
    this.failures.admit(client);
    const why = presented === null ? 'no bearer token' : 'wrong token';
    this.refused(action, client, why);
    throw new HttpError(401, 'unauthorized', `an operator token is needed (${why})`, { 'www-authenticate': 'Bearer realm="laundry-gateway"' });
  }

  private refused(action: ActionName, client: string, why: string): void {
    this.d.counters.action(action, 'refused');
    this.d.logger.warn({ action, client, why }, 'web: operator action refused');
    if (!this.refusalAudit.admit(client).ok) {
      this.suppressed += 1;
      return;
    }
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.appendAlert({
      code: 'web_action_refused',
      message: `${action} refused: ${why}`,
      detail: { action, client, why, unauditedRefusalsBefore: suppressed },
    });
  }

  private audit(action: ActionName, result: string, s: { machineId?: string; vendId?: string; cardMask?: string; client: string; why: string | null }): void {
    this.d.counters.action(action, result);
    this.d.logger.info({ action, result, machineId: s.machineId, vendId: s.vendId, card: s.cardMask, client: s.client }, 'web: operator action');
    this.appendAlert({
      code: 'web_action',
      message: `${action}: ${result}${s.cardMask ? ` (card ${s.cardMask})` : ''}`,
      ...(s.machineId ? { machineId: s.machineId } : {}),
      ...(s.vendId ? { vendId: s.vendId } : {}),
      detail: { action, result, client: s.client, cardMask: s.cardMask ?? null, why: s.why },
    });
  }

  private appendAlert(a: Parameters<StatusSource['appendAlert']>[0]): void {
    try {
      this.d.source.appendAlert(a);
    } catch (e) {
      // The answer still goes out; the log keeps what the ledger could not.
      this.d.logger.error({ err: e instanceof Error ? e.message : String(e), code: a.code }, 'web: could not audit an operator action');
    }
  }
}


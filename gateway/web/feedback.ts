// "Report a problem": a customer's note about a machine. Validated, rate-limited per client
// address and for the whole room, queued upstream through the outbox, and kept in memory for
// the operator's list on the page (the outbox is the durable copy).
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import { HttpError, clientAddress, parseBody, readJson } from './http.js';
import type { WebCounters } from './metrics.js';
import { RateLimiter, type BucketSpec } from './rate-limit.js';
import type { FeedbackView } from './status-schema.js';
import type { StatusSource } from './status-source.js';

/** Printable text only: control characters have no business in a note and upset some terminals. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .refine((s) => !/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/.test(s), 'control characters are not allowed');

export const feedbackBodySchema = z.strictObject({
  /** A machine of this room, or null for the room in general. */
  machineId: z.string().min(1).max(64).nullable().default(null),
  message: text(1000).pipe(z.string().min(3, 'say in a few words what happened')),
  contact: text(200).optional(),
});
export type FeedbackBody = z.output<typeof feedbackBodySchema>;

export interface FeedbackLimits {
  perClient: BucketSpec;
  global: BucketSpec;
}

/**
 * 5 reports per client per 10 minutes. The room-wide bucket is only a backstop for the outbox
 * (at most 1 200 reports an hour, about 1 MB): at 30 it was run dry by 7 addresses and a real
 * customer got 429; now it takes 40 addresses at their limit.
 */
export const DEFAULT_FEEDBACK_LIMITS: FeedbackLimits = {
  perClient: { capacity: 5, refillMs: 10 * 60_000 },
  global: { capacity: 200, refillMs: 10 * 60_000 },
};

export class FeedbackDesk {
  private readonly limiter: RateLimiter;
  private readonly recent: FeedbackView[] = [];

  constructor(
    private readonly d: { source: StatusSource; counters: WebCounters; logger: Logger; clock: Clock; limits: FeedbackLimits; keep: number },
  ) {
    this.limiter = new RateLimiter({ ...d.limits, clock: d.clock, maxClients: 1024 });
  }

  /** Newest first. */
  list(): FeedbackView[] {
    return [...this.recent].reverse();
  }

  async submit(req: IncomingMessage): Promise<FeedbackView> {
    let body: FeedbackBody;
    try {
      body = parseBody(feedbackBodySchema, await readJson(req));
    } catch (e) {
      this.d.counters.feedbackResult('invalid');
      throw e;
    }
    if (body.machineId !== null && !this.d.source.machineIds().includes(body.machineId)) {
      this.d.counters.feedbackResult('invalid');
      throw new HttpError(400, 'invalid', 'machineId: no such machine in this room');
    }
    const client = clientAddress(req);
    const admitted = this.limiter.admit(client);
    if (!admitted.ok) {
      this.d.counters.feedbackResult('rate_limited');
      const who = admitted.scope === 'client' ? 'from this device' : 'in this room';
      throw new HttpError(429, 'rate_limited', `too many reports ${who} just now; please try again later`, { 'retry-after': String(admitted.retryAfterSec) });
    }
    const view: FeedbackView = { id: randomUUID(), at: this.d.clock.now(), machineId: body.machineId, message: body.message, hasContact: body.contact !== undefined && body.contact !== '' };
    this.d.source.enqueueEvent('feedback', { id: view.id, at: view.at, machineId: view.machineId, message: view.message, contact: body.contact ?? null });
    this.d.counters.feedbackResult('accepted');
    this.d.logger.info({ feedbackId: view.id, machineId: view.machineId }, 'web: problem reported');
    this.recent.push(view);
    if (this.recent.length > this.d.keep) this.recent.splice(0, this.recent.length - this.d.keep);
    return view;
  }
}

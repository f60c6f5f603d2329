// Token buckets, one per client (clientKey) in a bounded table, plus an optional shared one as a
// backstop. The shared bucket must never be what a flood from a few addresses runs dry: size it
// well above what those can take, or leave it out. Time is the injected monotonic clock.
import type { Clock } from '../core/clock.js';

export interface BucketSpec {
  /** Most requests in a burst. */
  capacity: number;
  /** Time to refill the whole bucket, ms. */
  refillMs: number;
}

class Bucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly spec: BucketSpec,
    now: number,
  ) {
    this.tokens = spec.capacity;
    this.at = now;
  }

  private refill(now: number): void {
    const rate = this.spec.capacity / this.spec.refillMs;
    this.tokens = Math.min(this.spec.capacity, this.tokens + Math.max(0, now - this.at) * rate);
    this.at = now;
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.spec.capacity;
  }

  /** ms until one token is available; 0 when one is now. */
  waitMs(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / (this.spec.capacity / this.spec.refillMs));
  }

  take(): void {
    this.tokens -= 1;
  }
}

export type Admission = { ok: true } | { ok: false; scope: 'client' | 'global'; retryAfterSec: number };

export class RateLimiter {
  private readonly perKey = new Map<string, Bucket>();
  private readonly global: Bucket | null;

  constructor(
    private readonly o: { perClient: BucketSpec; global?: BucketSpec; clock: Clock; maxClients?: number },
  ) {
    this.global = o.global ? new Bucket(o.global, o.clock.monotonic()) : null;
  }

  /** Clients with a bucket now (bounded by maxClients). */
  get tracked(): number {
    return this.perKey.size;
  }

  /** Takes a token from the client's bucket and the shared one, or neither; `peek` takes none. */
  admit(key: string, opts: { peek?: boolean } = {}): Admission {
    const now = this.o.clock.monotonic();
    let b = this.perKey.get(key);
    if (!b) {
      this.evict(now);
      b = new Bucket(this.o.perClient, now);
      this.perKey.set(key, b);
    }
    const clientWait = b.waitMs(now);
    if (clientWait > 0) return { ok: false, scope: 'client', retryAfterSec: Math.ceil(clientWait / 1000) };
    const globalWait = this.global?.waitMs(now) ?? 0;
    if (globalWait > 0) return { ok: false, scope: 'global', retryAfterSec: Math.ceil(globalWait / 1000) };
    if (opts.peek === true) return { ok: true };
    b.take();
    this.global?.take();
    return { ok: true };
  }

  /** Bounded memory under many addresses: a full bucket is the same as no bucket. */
  private evict(now: number): void {
    const max = this.o.maxClients ?? 1000;
    if (this.perKey.size < max) return;
    for (const [k, b] of this.perKey) if (b.full(now)) this.perKey.delete(k);
    // Still full of busy clients: drop the oldest; at worst one client gets a fresh bucket.
    while (this.perKey.size >= max) {
      const first = this.perKey.keys().next();
      if (first.done === true) break;
      this.perKey.delete(first.value);
    }
  }
}

// One presentation of a card (or one scan of a phone screen) reaches the line many times: a
// type L reader repeats its line every 300 ms, an EM4100 reader its frame every ~100 ms, a
// scanner decodes a held screen again and again. A key seen again within the window of its
// LAST sighting is the same presentation, so a card left on the reader for a minute is still one
// swipe. Time is passed in (monotonic milliseconds): no timers here.

export type ReaderFamily = 'line' | 'em4100' | 'qr' | 'sun';

/**
 * Windows from the datasheet (line, qr); EM4100's is not given there and follows type L. Type S
 * debounces only its plain `UID:` lines: a SUN line is never a repeat (the card's counter moves
 * on every tap), so the same text again goes on to be declined as a replay.
 */
export const DEFAULT_DEBOUNCE_MS: Readonly<Record<ReaderFamily, number>> = { line: 2000, em4100: 2000, qr: 3000, sun: 2000 };

export interface DebounceOptions {
  windowMs: number;
  /**
   * Keys remembered at most. Past it the key seen longest ago is forgotten early, which can at
   * worst turn one long presentation into two: bounded memory matters more on a noisy line.
   */
  maxKeys?: number;
}

export type Sighting = 'new' | 'repeat';

export class PresentationDebouncer {
  private readonly windowMs: number;
  private readonly maxKeys: number;
  // Map keeps insertion order; re-inserting on every sighting makes it least-recently-seen first.
  private readonly lastSeen = new Map<string, number>();

  constructor(opts: DebounceOptions) {
    if (!(opts.windowMs >= 0)) throw new RangeError('windowMs must be >= 0');
    this.windowMs = opts.windowMs;
    this.maxKeys = Math.max(1, Math.floor(opts.maxKeys ?? 64));
  }

  observe(key: string, nowMs: number): Sighting {
    this.prune(nowMs);
    const last = this.lastSeen.get(key);
    this.lastSeen.delete(key);
    while (this.lastSeen.size >= this.maxKeys) {
      const oldest = this.lastSeen.keys().next();
      if (oldest.done === true) break;
      this.lastSeen.delete(oldest.value);
    }
    this.lastSeen.set(key, nowMs);
    // A clock that steps back (it should not: callers pass monotonic time) counts as a repeat.
    if (last !== undefined && nowMs - last < this.windowMs) return 'repeat';
    return 'new';
  }

  /** Forgets everything, e.g. when the reader was unplugged: a card seen after that is new. */
  clear(): void {
    this.lastSeen.clear();
  }

  get size(): number {
    return this.lastSeen.size;
  }

  private prune(nowMs: number): void {
    for (const [key, at] of this.lastSeen) {
      if (nowMs - at < this.windowMs) break;
      this.lastSeen.delete(key);
    }
  }
}

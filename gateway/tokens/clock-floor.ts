// The gateway's trusted time for token checks: the later of the system clock and a persisted
// floor. A Pi has no RTC and may boot offline with its clock far behind; without the floor an
// expired token would become good again. The floor is the latest time we have reason to
// believe: the last persisted value, an NTP-synced system clock, the cloud's time, and the
// monotonic time elapsed since then. It never moves back. It is written sparingly (SD wear):
// at most every persistEveryMs from running time, at once only when NTP or the cloud moves it
// by a jump, and on stop().
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/log.js';

export type FloorSource = 'none' | 'minimum' | 'persisted' | 'runtime' | 'ntp' | 'cloud';

export interface ClockFloorOptions {
  clock: Clock;
  /** The value the ledger's settings table held at start (seconds); undefined when none. */
  persistedSec?: number | undefined;
  /** A floor nobody can argue with, e.g. this software's build time (seconds). */
  minimumSec?: number;
  /** Stores the floor (seconds). May throw: the floor then stays due and is retried on the next tick. */
  persist: (floorSec: number) => void;
  /** Whether the system clock is NTP-synchronized now; asked on every tick. */
  isNtpSynchronized?: () => boolean;
  /** Least interval between writes caused by running time alone (default 15 min). */
  persistEveryMs?: number;
  /** An NTP or cloud advance larger than this is written at once (default 60 s). */
  jumpPersistSec?: number;
  /** tick() period once start()ed (default 60 s). */
  tickEveryMs?: number;
  logger?: Logger;
}

export interface ClockFloorStatus {
  /** False when the system clock is behind the floor: token times are then judged by the floor. */
  trusted: boolean;
  floorSec: number;
  systemSec: number;
  /** The trusted time: max(systemSec, floorSec). */
  nowSec: number;
  lastPersistedSec: number | undefined;
  source: FloorSource;
}

export class ClockFloor {
  private readonly clock: Clock;
  private readonly persistFn: (floorSec: number) => void;
  private readonly persistEveryMs: number;
  private readonly jumpPersistSec: number;
  private readonly tickEveryMs: number;
  private readonly isNtpSynchronized: (() => boolean) | undefined;
  private readonly logger: Logger | undefined;
  // floor = anchorSec + whole seconds of monotonic time since anchorMono
  private anchorSec: number;
  private anchorMono: number;
  private source: FloorSource;
  private lastPersistedSec: number | undefined;
  private lastPersistMono: number;
  private timer: NodeJS.Timeout | undefined;
  /** A write that should have happened at once but failed: retried on the next tick. */
  private urgent = false;

  constructor(opts: ClockFloorOptions) {
    this.clock = opts.clock;
    this.persistFn = opts.persist;
    this.persistEveryMs = opts.persistEveryMs ?? 15 * 60_000;
    this.jumpPersistSec = opts.jumpPersistSec ?? 60;
    this.tickEveryMs = opts.tickEveryMs ?? 60_000;
    this.isNtpSynchronized = opts.isNtpSynchronized;
    this.logger = opts.logger;
    const persisted = opts.persistedSec;
    const persistedOk = persisted !== undefined && Number.isSafeInteger(persisted) && persisted >= 0;
    if (persisted !== undefined && !persistedOk) this.logger?.warn({ persisted: String(persisted) }, 'ignoring an invalid persisted clock floor');
    const minimum = opts.minimumSec !== undefined && Number.isSafeInteger(opts.minimumSec) ? opts.minimumSec : 0;
    const p = persistedOk ? persisted : 0;
    this.anchorSec = Math.max(p, minimum, 0);
    this.source = this.anchorSec === 0 ? 'none' : p >= minimum ? 'persisted' : 'minimum';
    this.anchorMono = this.clock.monotonic();
    this.lastPersistedSec = persistedOk ? persisted : undefined;
    this.lastPersistMono = this.anchorMono;
  }

  private systemSec(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  floorSec(): number {
    const elapsedMs = Math.max(0, this.clock.monotonic() - this.anchorMono);
    return this.anchorSec + Math.floor(elapsedMs / 1000);
  }

  /** The gateway's trusted time in seconds: pass it to verifyToken as nowSec. */
  nowSec(): number {
    return Math.max(this.systemSec(), this.floorSec());
  }

  /**
   * A trustworthy time from NTP or the cloud. Moves the floor forward only; returns whether it
   * moved. A jump is persisted at once, a small step waits for the regular schedule.
   */
  advance(sec: number, source: 'ntp' | 'cloud'): boolean {
    if (!Number.isSafeInteger(sec)) return false;
    const before = this.floorSec();
    if (sec <= before) return false;
    this.anchorSec = sec;
    this.anchorMono = this.clock.monotonic();
    this.source = source;
    if (sec - before > this.jumpPersistSec) {
      this.logger?.info({ from: before, to: sec, source }, 'clock floor advanced');
      this.persistNow();
    }
    return true;
  }

  /** Periodic work: follow an NTP-synced system clock, and persist when due. Never throws. */
  tick(): void {
    let ntp = false;
    try {
      ntp = this.isNtpSynchronized?.() ?? false;
    } catch (e) {
      this.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'cannot tell whether the clock is NTP-synchronized');
    }
    if (ntp) this.advance(this.systemSec(), 'ntp');
    const floor = this.floorSec();
    if (floor !== this.lastPersistedSec && (this.urgent || this.clock.monotonic() - this.lastPersistMono >= this.persistEveryMs)) {
      if (this.source === 'persisted' || this.source === 'minimum') this.source = 'runtime';
      this.persistNow();
    }
  }

  status(): ClockFloorStatus {
    const systemSec = this.systemSec();
    const floorSec = this.floorSec();
    return { trusted: systemSec >= floorSec, floorSec, systemSec, nowSec: Math.max(systemSec, floorSec), lastPersistedSec: this.lastPersistedSec, source: this.source };
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.tickEveryMs);
    this.timer.unref();
  }

  /** Stops the timer and writes the floor once more if it moved since the last write. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.floorSec() !== this.lastPersistedSec) this.persistNow();
  }

  private persistNow(): void {
    const floor = this.floorSec();
    try {
      this.persistFn(floor);
      this.lastPersistedSec = floor;
      this.lastPersistMono = this.clock.monotonic();
      this.urgent = false;
    } catch (e) {
      this.urgent = true;
      // Not fatal for a vend: the floor in memory is still right; the write is retried next tick.
      this.logger?.error({ err: e instanceof Error ? e.message : String(e), floor }, 'cannot persist the clock floor');
    }
  }
}

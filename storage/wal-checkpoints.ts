// WAL checkpoints off the event loop. SQLite by itself checkpoints inside the commit that takes
// the WAL past wal_autocheckpoint pages: that commit then copies ~1 000 pages into ledger.db and
// fsyncs it, 30-90 ms of the one thread that also answers swipes (measured on the uplink's acks
// while a backlog drains, docs/performance.md section 10). A ledger opened with
// `backgroundCheckpoints` turns that off (wal_autocheckpoint=0); this policy then looks at the
// WAL every second and, once `thresholdFrames` frames wait to be copied (the ledger passes
// ~8 MiB of frames, storage/index.ts CHECKPOINT_WAL_BYTES: fewer checkpoints copy the pages every
// vend rewrites fewer times, for the SD card), runs one PASSIVE
// checkpoint on a connection of its own in a worker thread (one thread kept while checkpoints
// come often, CheckpointThread): commits go on meanwhile (PASSIVE
// never blocks a writer), and the next commit after it starts the WAL over. If the WAL still
// grows past `hardLimitFrames` (workers failing), the checkpoint runs here, on the loop. On a
// clean stop the ledger's close checkpoints what is left (SQLite does, as the last connection).
import { closeSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import type { Db } from './db.js';
import type { Logger } from './deps.js';

export interface WalCheckpointOptions {
  /** Frames waiting to be copied that start a checkpoint (default 1 000, SQLite's own; openLedger passes CHECKPOINT_WAL_BYTES' worth). */
  thresholdFrames?: number;
  /** A WAL this long is checkpointed on the event loop (default 20 000 frames). */
  hardLimitFrames?: number;
  /** How often the WAL is looked at (default 1 000 ms). */
  everyMs?: number;
  /** The checkpoint thread ends after this long without a checkpoint (default 30 000 ms). */
  threadIdleMs?: number;
}

export interface WalState {
  /** Frames in the WAL (its valid part). */
  frames: number;
  /** Of those, already copied into the database file. */
  backfilled: number;
}

/** Worker checkpoints in a row, while a drain's commits keep adding frames, before the policy waits for its next look. */
const MAX_ROUNDS = 8;

const resultSchema = z.strictObject({ ok: z.literal(true), busy: z.number().int(), log: z.number().int(), checkpointed: z.number().int(), ms: z.number() });
const failureSchema = z.strictObject({ ok: z.literal(false), error: z.string() });

/**
 * The worker: one thread kept while checkpoints come often (a drain: about one a second), each
 * checkpoint on a connection of its own, opened for it and closed after it, so between two the
 * ledger's own connection is the only one (its close on stop is the last and checkpoints the
 * rest). better-sqlite3 is loaded once per thread, not once per checkpoint.
 */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
parentPort.on('message', (path) => {
  let db = null;
  try {
    db = new Database(path, { fileMustExist: true });
    db.pragma('synchronous = FULL');
    const t = performance.now();
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed, ms: performance.now() - t });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.message ? e.message : e) });
  } finally {
    if (db) db.close();
  }
});
`;

type CheckpointResult = z.infer<typeof resultSchema>;

/**
 * The checkpoint thread. Starting a worker is a new V8 isolate, Node's bootstrap and the addon's
 * load: ~50 ms of CPU here (more under load, several times more on a Pi core), which a drain paid
 * once a second on the two cores that also run the swipe's loop. Kept for `idleMs` after its last
 * checkpoint, then ended: an idle room checkpoints every few minutes at most and does not keep
 * the thread's memory (an isolate, some MiB) for it. Unreferenced: it never holds the process.
 */
export class CheckpointThread {
  private worker: Worker | null = null;
  private waiting: { resolve(r: CheckpointResult): void; reject(e: Error): void } | null = null;
  private idle: NodeJS.Timeout | null = null;
  /** Threads started (tests: one for a drain's many checkpoints). */
  started = 0;

  constructor(private readonly idleMs = 30_000) {}

  /** One PASSIVE checkpoint of the database at `dbPath`, on its own connection; one at a time. */
  run(dbPath: string): Promise<CheckpointResult> {
    if (this.waiting !== null) return Promise.reject(new Error('checkpoint thread: a checkpoint is under way'));
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const w = this.worker ?? this.spawn();
    return new Promise<CheckpointResult>((resolve, reject) => {
      this.waiting = { resolve, reject };
      w.postMessage(dbPath);
    });
  }

  /** Ends the thread (waits for it); the next run starts another. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.idle = null;
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private spawn(): Worker {
    const module = createRequire(import.meta.url).resolve('better-sqlite3');
    const w = new Worker(WORKER, { eval: true, workerData: { module } });
    this.started++;
    w.unref();
    w.on('message', (m: unknown) => {
      const p = this.waiting;
      this.waiting = null;
      if (p === null) return;
      const ok = resultSchema.safeParse(m);
      if (ok.success) p.resolve(ok.data);
      else p.reject(new Error(failureSchema.safeParse(m).data?.error ?? 'checkpoint worker: unexpected answer'));
      this.idle = setTimeout(() => void this.close(), this.idleMs);
      this.idle.unref();
    });
    const gone = (e: Error): void => {
      // A thread that failed or exited is not used again.
      if (this.worker === w) this.worker = null;
      const p = this.waiting;
      this.waiting = null;
      p?.reject(e);
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`checkpoint worker exited with code ${code} without an answer`)));
    this.worker = w;
    return w;
  }
}

/**
 * The wal-index header (the -shm file SQLite maps into memory, https://www.sqlite.org/walformat.html):
 * mxFrame, the WAL's valid frames, at byte 16 of the first header copy; nBackfill, the frames
 * already checkpointed, at byte 96. Native byte order. Read through a descriptor the caller keeps
 * open for as long as its process has the database open: closing any descriptor of a file drops
 * every POSIX lock the process holds on it, SQLite's too, and then another process opening the
 * ledger (the CLI's read-only `doctor`, `audit verify`) finds the wal-index unowned, truncates it
 * and the daemon dies of SIGBUS at its next access to the mapping (seen: test/secure-card/e2e).
 */
export function readWalState(shmFd: number): WalState {
  const b = Buffer.alloc(100);
  if (readSync(shmFd, b, 0, 100, 0) < 100) return { frames: 0, backfilled: 0 };
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const u32 = (at: number): number => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  return { frames: u32(16), backfilled: Math.min(u32(16), u32(96)) };
}

/** One background checkpoint as the loop saw it (performance.now() ms), for a bench's trace. */
export interface CheckpointSeen {
  startedAt: number;
  endedAt: number;
  /** Frames waiting when it started. */
  pending: number;
  frames: number;
  copied: number;
  /** The checkpoint call in the worker alone (not the open and close of its connection). */
  workerMs: number;
}

export class WalCheckpoints {
  /** Told of each background checkpoint (benches trace them); null: nobody listens. */
  onCheckpoint: ((c: CheckpointSeen) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly threshold: number;
  private readonly hardLimit: number;
  private readonly everyMs: number;
  private readonly thread: CheckpointThread;
  readonly counts = { background: 0, onLoop: 0, failed: 0 };
  /** The -shm, opened once and closed only after the database (readWalState says why). */
  private shmFd: number | null = null;

  constructor(
    private readonly db: Db,
    private readonly path: string,
    private readonly log: Logger,
    o: WalCheckpointOptions = {},
  ) {
    this.threshold = o.thresholdFrames ?? 1000;
    this.hardLimit = Math.max(this.threshold, o.hardLimitFrames ?? 20_000);
    this.everyMs = o.everyMs ?? 1000;
    this.thread = new CheckpointThread(o.threadIdleMs);
  }

  /** Checkpoint threads started so far (one serves a whole drain). */
  get threadsStarted(): number {
    return this.thread.started;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  /** Stops looking, waits for a checkpoint under way and ends the thread (the ledger's close does the last one). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await this.thread.close();
  }

  /** The WAL's frames and how many of them are in ledger.db already. */
  state(): WalState {
    if (this.shmFd === null) {
      if (!this.db.open) return { frames: 0, backfilled: 0 };
      try {
        this.shmFd = openSync(`${this.path}-shm`, 'r');
      } catch {
        return { frames: 0, backfilled: 0 };
      }
    }
    return readWalState(this.shmFd);
  }

  /** Frames waiting to be copied into the database file. */
  pending(): number {
    const s = this.state();
    return s.frames - s.backfilled;
  }

  /** Closes the -shm descriptor: only once the ledger's own connection is closed. */
  release(): void {
    if (this.db.open) throw new Error('WalCheckpoints.release: the database is still open');
    if (this.shmFd !== null) closeSync(this.shmFd);
    this.shmFd = null;
    void this.thread.close();
  }

  /** Looks at the WAL once; returns the checkpoint it started, if any (tests await it). */
  tick(): Promise<void> | null {
    if (this.running !== null || !this.db.open) return null;
    const s = this.state();
    const pending = s.frames - s.backfilled;
    // A long WAL copied all but its last frames is not started over either: looked at again.
    if (pending === 0 || (pending < this.threshold && s.frames < this.threshold)) return null;
    if (s.frames >= this.hardLimit) {
      // The workers do not get it done: bounded WAL first, even at the loop's expense.
      try {
        this.db.pragma('wal_checkpoint(PASSIVE)');
        this.counts.onLoop++;
        this.log.warn({ pending }, 'WAL checkpoint run on the event loop: the background ones did not keep up');
      } catch (e) {
        this.counts.failed++;
        this.log.error({ pending, err: e instanceof Error ? e.message : String(e) }, 'WAL checkpoint failed');
      }
      return null;
    }
    this.running = this.inWorker(pending).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /**
   * Worker checkpoints until none is left to copy (a drain's acks keep committing while one
   * copies), at most MAX_ROUNDS in a row: only a WAL copied to its end is started over by the
   * next commit. Nothing is copied on the loop: even a few frames cost the loop a checkpoint's
   * fsync of ledger.db (up to ~100 ms under a drain's disk traffic, CPU profile of drain-vend).
   * If commits never leave a gap, the next looks try again while the WAL is over the threshold,
   * and past hardLimitFrames it is done on the loop.
   */
  private async inWorker(pending: number): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        const startedAt = performance.now();
        const waiting = round === 0 ? pending : this.pending();
        const r = await this.thread.run(this.path);
        this.counts.background++;
        this.onCheckpoint?.({ startedAt, endedAt: performance.now(), pending: waiting, frames: r.log, copied: r.checkpointed, workerMs: r.ms });
        this.log.debug({ frames: r.log, copied: r.checkpointed, busy: r.busy, ms: Math.round(r.ms) }, 'WAL checkpointed');
      } catch (e) {
        this.counts.failed++;
        this.log.warn({ pending, err: e instanceof Error ? e.message : String(e) }, 'background WAL checkpoint failed; tried again');
        return;
      }
      if (!this.db.open || this.pending() === 0) return;
    }
  }
}

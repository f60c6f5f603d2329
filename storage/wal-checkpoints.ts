// WAL checkpoints off the event loop. SQLite by itself checkpoints inside the commit that takes
// the WAL past wal_autocheckpoint pages: that commit then copies ~1 000 pages into ledger.db and
// fsyncs it, 30-90 ms of the one thread that also answers swipes (measured on the uplink's acks
// while a backlog drains, docs/performance.md section 10). A ledger opened with
// `backgroundCheckpoints` turns that off (wal_autocheckpoint=0); this policy then looks at the
// WAL every second and, once `thresholdFrames` frames wait to be copied (the same 1 000 as
// SQLite's default, so the SD card sees as many checkpoints as before), runs one PASSIVE
// checkpoint on a connection of its own in a worker thread: commits go on meanwhile (PASSIVE
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
  /** Frames waiting to be copied that start a checkpoint (default 1 000, SQLite's own default). */
  thresholdFrames?: number;
  /** Beyond this many, the checkpoint runs on the event loop (default 20 000 frames). */
  hardLimitFrames?: number;
  /** How often the WAL is looked at (default 1 000 ms). */
  everyMs?: number;
}

export interface WalState {
  /** Frames in the WAL (its valid part). */
  frames: number;
  /** Of those, already copied into the database file. */
  backfilled: number;
}

/** Frames left after a worker's checkpoint that are copied on the loop (~1 ms of writes). */
const FINISH_ON_LOOP = 64;
/** Worker checkpoints in a row before the policy waits for its next look. */
const MAX_ROUNDS = 4;

const resultSchema = z.strictObject({ ok: z.literal(true), busy: z.number().int(), log: z.number().int(), checkpointed: z.number().int(), ms: z.number() });
const failureSchema = z.strictObject({ ok: z.literal(false), error: z.string() });

/** The worker: its own connection, one PASSIVE checkpoint, closed (not the last connection: no other effect). */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db = null;
try {
  db = new Database(workerData.path, { fileMustExist: true });
  db.pragma('synchronous = FULL');
  const t = performance.now();
  const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
  parentPort.postMessage({ ok: true, busy: r.busy, log: r.log, checkpointed: r.checkpointed, ms: performance.now() - t });
} catch (e) {
  parentPort.postMessage({ ok: false, error: String(e && e.message ? e.message : e) });
} finally {
  if (db) db.close();
}
`;

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

/** One PASSIVE checkpoint in a worker thread; resolves with what it copied. */
export function checkpointInWorker(dbPath: string): Promise<z.infer<typeof resultSchema>> {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { eval: true, workerData: { path: dbPath, module } });
    let answered = false;
    w.once('message', (m: unknown) => {
      answered = true;
      const ok = resultSchema.safeParse(m);
      if (ok.success) resolve(ok.data);
      else reject(new Error(failureSchema.safeParse(m).data?.error ?? 'checkpoint worker: unexpected answer'));
    });
    w.once('error', (e) => reject(e));
    w.once('exit', (code) => {
      if (!answered) reject(new Error(`checkpoint worker exited with code ${code} without an answer`));
    });
  });
}

export class WalCheckpoints {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly threshold: number;
  private readonly hardLimit: number;
  private readonly everyMs: number;
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
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  /** Stops looking and waits for a checkpoint under way (the ledger's close does the last one). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
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
  }

  /** Looks at the WAL once; returns the checkpoint it started, if any (tests await it). */
  tick(): Promise<void> | null {
    if (this.running !== null || !this.db.open) return null;
    const pending = this.pending();
    if (pending < this.threshold) return null;
    if (pending >= this.hardLimit) {
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
   * Worker checkpoints until at most FINISH_ON_LOOP frames are left (a drain's acks keep
   * committing while one copies), at most MAX_ROUNDS in a row; those last frames are then
   * copied on the loop, a few pages: only a WAL copied to its end is started over by the next
   * commit, otherwise under a steady stream of commits it would never be, and keep growing.
   */
  private async inWorker(pending: number): Promise<void> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      try {
        const r = await checkpointInWorker(this.path);
        this.counts.background++;
        this.log.debug({ frames: r.log, copied: r.checkpointed, busy: r.busy, ms: Math.round(r.ms) }, 'WAL checkpointed');
      } catch (e) {
        this.counts.failed++;
        this.log.warn({ pending, err: e instanceof Error ? e.message : String(e) }, 'background WAL checkpoint failed; tried again');
        return;
      }
      if (!this.db.open) return;
      const left = this.pending();
      if (left <= FINISH_ON_LOOP) {
        this.finish(left);
        return;
      }
    }
  }

  private finish(left: number): void {
    if (left === 0) return;
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
    } catch (e) {
      this.log.warn({ left, err: e instanceof Error ? e.message : String(e) }, 'WAL checkpoint of the last frames failed');
    }
  }
}

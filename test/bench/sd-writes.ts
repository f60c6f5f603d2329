// The SD card's write budget (issue 16): bytes the daemon makes the kernel write to storage per
// vend and per idle hour, and the bytes of log it hands journald at the default level (info),
// projected to a day of a 16-machine room at 4 cycles per machine. Goal ≤ 5 MB a day with
// synchronous=FULL kept.
//
// - The rig is lib-vend's: the real Daemon in this process on a ledger file of the repository's
//   disk (WAL, synchronous=FULL), 16 LW-485 machines, one card reader each on a socat pty, the
//   bus polled at 1 Hz as in a room. The simulator runs 30x real time so a 30-minute cycle takes
//   a minute, yet every simulated minute still lasts 2 s, so the 1 Hz poller sees each minute of
//   every countdown as in a real room (what the log writes per cycle is measured, not guessed).
// - Storage: write_bytes of /proc/self/io (what this process made the kernel send to the block
//   device, in pages: what wears the card); nothing else in the process writes files. When
//   strace is installed it is attached to this process for the window and splits the bytes
//   written by file (ledger.db = checkpoints, -wal = commits, -shm).
// - Journal: the bytes and lines of the daemon's pino output at info, as journald would receive
//   them from stdout (journald's own overhead on top is not counted), tallied by message.
// - Checkpoints: the window starts on an empty WAL (the rig's set-up is checkpointed first, not
//   counted); the daemon's own policy checkpoints in the window as in a room (once 8 MiB of WAL
//   wait, storage/index.ts), and at its end what is left is checkpointed once more, counted. A
//   checkpoint copies each page once however many vends rewrote it, so its cost per vend falls
//   with the vends it covers: the full run swipes a day's 64 vends (one checkpoint per day's
//   vends, an upper bound for a threshold of ~2.5 days' WAL); the quick run's 16 vends and one
//   checkpoint count ~4 times too many checkpoints (`sd-writes.vends=64` with --quick for a day).
// - History: the ledger first holds a month of a room's vends (`sd-writes.historyVends`, 2 000
//   over 200 accounts, acknowledged by the cloud), written through storage's own functions
//   (test/bench/lib-backlog.ts). On a fresh ledger the pages every vend rewrites (index right
//   edges and roots, the tally, meta) sit in a few 4 KiB blocks at the start of the file; on a
//   used one they are spread over it, and each checkpoint writes each of them again.
// - Per vend: what the vend window wrote (swipes until every machine is idle again) less the idle
//   rate over the same time, divided by the vends. Swipes come one at a time, 8 s apart
//   (`sd-writes.spacingSeconds`), as vends spread over a day: nothing of one vend may share a
//   commit with another's that would not in a room.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createLogger } from '../../gateway/core/log.js';
import { CHECKPOINT_WAL_BYTES } from '../../storage/index.js';
import { loadNote, numParam, round } from './lib-stats.js';
import { artifactsDir, startVendRig } from './lib-vend.js';
import { fillBacklog, RECORDS_PER_VEND } from './lib-backlog.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { openLedger } from '../../storage/index.js';
import { ROOM_ID } from '../engine/harness.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';

const DAY_TARGET_MB = 5;
const ROOM_MACHINES = 16;
const CYCLES_PER_MACHINE = 4;
const MB = 1_000_000;

/** Counts what the logger writes, by message. */
class LogCounter extends Writable {
  bytes = 0;
  lines = 0;
  readonly byMsg = new Map<string, { lines: number; bytes: number }>();
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    const s = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    for (const line of s.split('\n')) {
      if (line === '') continue;
      const bytes = Buffer.byteLength(line) + 1;
      this.bytes += bytes;
      this.lines++;
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? '(no msg)';
      const t = this.byMsg.get(msg) ?? { lines: 0, bytes: 0 };
      t.lines++;
      t.bytes += bytes;
      this.byMsg.set(msg, t);
    }
    cb();
  }
  snapshot(): { bytes: number; lines: number; byMsg: Map<string, { lines: number; bytes: number }> } {
    return { bytes: this.bytes, lines: this.lines, byMsg: new Map([...this.byMsg].map(([k, v]) => [k, { ...v }])) };
  }
}

function writeBytes(): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return Number(m?.[1] ?? NaN);
}

/** strace on this process: bytes written per file, read when the window ends. */
interface FileTally {
  stop(): Promise<Map<string, number>>;
}

async function straceFiles(outFile: string): Promise<FileTally | null> {
  let child: ChildProcess;
  try {
    child = spawn('strace', ['-f', '-qq', '-y', '-e', 'trace=write,pwrite64,writev,pwritev', '-e', 'signal=none', '-o', outFile, '-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const failed = await Promise.race([new Promise<boolean>((r) => child.once('error', () => r(true))), sleep(1500).then(() => false)]);
  if (failed || child.exitCode !== null) return null;
  return {
    stop: async () => {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT');
      await gone;
      const byFile = new Map<string, number>();
      for (const line of readFileSync(outFile, 'utf8').split('\n')) {
        const m = /^\d+ +p?writev?6?4?\(\d+<([^>]*)>.*= (\d+)$/.exec(line);
        if (m === null) continue;
        const path = m[1] ?? '';
        // Only files: pipes, sockets and ttys do not reach the card.
        if (!path.startsWith('/') || path.startsWith('/dev/')) continue;
        const key = path.endsWith('-wal') ? 'WAL (commits)' : path.endsWith('-shm') ? 'WAL index (-shm)' : path.endsWith('.db') ? 'ledger.db (checkpoints)' : path;
        byFile.set(key, (byFile.get(key) ?? 0) + Number(m[2]));
      }
      return byFile;
    },
  };
}

function diffMsgs(a: Map<string, { lines: number; bytes: number }>, b: Map<string, { lines: number; bytes: number }>): Array<[string, { lines: number; bytes: number }]> {
  return [...b]
    .map(([k, v]): [string, { lines: number; bytes: number }] => [k, { lines: v.lines - (a.get(k)?.lines ?? 0), bytes: v.bytes - (a.get(k)?.bytes ?? 0) }])
    .filter(([, v]) => v.lines > 0)
    .sort((x, y) => y[1].bytes - x[1].bytes);
}

/** A month of a room's vends in the ledger before the daemon opens it, all acknowledged by the cloud. */
function fillHistory(dbPath: string, vends: number): void {
  if (vends <= 0) return;
  fillBacklog(dbPath, vends * RECORDS_PER_VEND, { accounts: 200, tag: 'history' });
  const ledger = openLedger({ path: dbPath, roomSecret: loadOrCreateRoomSecret(join(dirname(dbPath), 'room-secret')), gatewayId: ROOM_ID, bootId: 'bench-history', clock: systemClock, logger: silentLogger() });
  try {
    ledger.outbox.ack(ledger.outbox.stats().lastSeq);
  } finally {
    ledger.close();
  }
}

function kb(n: number): number {
  return round(n / 1000, 1);
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const idleSeconds = numParam(opts, 'idleSeconds', 300, 30);
  const vends = numParam(opts, 'vends', ROOM_MACHINES * CYCLES_PER_MACHINE, 16);
  const maxSeconds = numParam(opts, 'maxSeconds', 900, 900);
  const spacingSeconds = numParam(opts, 'spacingSeconds', 8, 8);
  const historyVends = numParam(opts, 'historyVends', 2000, 2000);
  const tmp = artifactsDir('bench-sd-');
  const counter = new LogCounter();
  const logger = createLogger({ level: 'info', destination: counter });
  try {
    const rig = await startVendRig({ dbPath: `${tmp.dir}/ledger.db`, machines: ROOM_MACHINES, gapMs: 0, logger, pollIntervalMs: 1000, timeScale: 30, beforeStart: (p) => fillHistory(p, historyVends) });
    try {
      const sync = (() => {
        const db = new Database(rig.dbPath, { readonly: true });
        try {
          return { journal: String(db.pragma('journal_mode', { simple: true })), pageSize: Number(db.pragma('page_size', { simple: true })) };
        } finally {
          db.close();
        }
      })();
      await sleep(3000);
      // The set-up's writes (cards, accounts, the first status of each machine) copied into
      // ledger.db, not counted: the windows start on an empty WAL, as after a checkpoint in a room.
      {
        const db = new Database(rig.dbPath);
        db.pragma('wal_checkpoint(PASSIVE)');
        db.close();
      }

      // ---- idle: polling, nothing happening
      opts.log(`sd-writes: idle for ${idleSeconds} s (16 machines polled at 1 Hz)`);
      const idleTrace = await straceFiles(`${tmp.dir}/idle.strace`);
      const w0 = writeBytes();
      const l0 = counter.snapshot();
      const t0 = performance.now();
      await sleep(idleSeconds * 1000);
      const idleS = (performance.now() - t0) / 1000;
      const w1 = writeBytes();
      const l1 = counter.snapshot();
      const idleFiles = (await idleTrace?.stop()) ?? null;
      const idleDisk = (w1 - w0) / idleS;
      const idleLog = (l1.bytes - l0.bytes) / idleS;

      // ---- vends: one customer at a time, `spacingSeconds` apart, over the machines in turn,
      // until `vends` are captured and every machine has finished its cycle. Not all at once: a
      // machine's status events wait up to 2 s for another commit to ride on
      // (storage/events-along.ts), and 16 cycles ending together would share commits that vends
      // spread over a day do not. Spaced so, a cycle's end falls between two swipes.
      opts.log(`sd-writes: ${vends} vends over ${ROOM_MACHINES} machines, ${spacingSeconds} s apart, each cycle run to its end`);
      const vendTrace = await straceFiles(`${tmp.dir}/vend.strace`);
      const policy = rig.daemon.ledger.walCheckpoints;
      const background0 = policy?.counts.background ?? 0;
      const w2 = writeBytes();
      const t2 = performance.now();
      const until = Date.now() + maxSeconds * 1000;
      const r = { samples: [] as number[], other: new Map<string, number>() };
      while (r.samples.length < vends && Date.now() < until) {
        const one = await rig.swipes(1, Math.max(1, (until - Date.now()) / 1000), 1);
        r.samples.push(...one.samples);
        for (const [k, v] of one.other) r.other.set(k, (r.other.get(k) ?? 0) + v);
        await sleep(spacingSeconds * 1000);
      }
      const allIdle = (): boolean => Array.from({ length: ROOM_MACHINES }, (_, i) => rig.room.control.lw485(i + 1).stateName).every((s) => s === 'IDLE');
      while (!allIdle() && Date.now() < until) await sleep(500);
      await sleep(3000);
      // Cycle ends wait up to 15 minutes for a commit to ride on (gateway/daemon.ts): those of the
      // last cycles have none in this window and are written now, alone, and counted.
      const endsLeft = rig.daemon.ledger.outbox.stats().lastSeq;
      rig.daemon.ledger.flushEventsAlong();
      const endsFlushed = rig.daemon.ledger.outbox.stats().lastSeq - endsLeft;
      const backgroundInWindow = (policy?.counts.background ?? 0) - background0;
      // What is left in the WAL, checkpointed once and counted: the next checkpoint's share of
      // this window (all of it, an upper bound when a checkpoint covers more vends than these).
      // Done here on a second connection in this process, so it is counted like the daemon's own.
      const cp = new Database(rig.dbPath);
      const checkpoint = cp.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as Array<{ busy: number; log: number; checkpointed: number }>;
      cp.close();
      const vendS = (performance.now() - t2) / 1000;
      const w3 = writeBytes();
      const l3 = counter.snapshot();
      const vendFiles = (await vendTrace?.stop()) ?? null;
      const n = r.samples.length;
      const perVendDisk = (w3 - w2 - idleDisk * vendS) / n;
      const perVendLog = (l3.bytes - l1.bytes - idleLog * vendS) / n;

      const hourDisk = idleDisk * 3600;
      const hourLog = idleLog * 3600;
      const dayVends = ROOM_MACHINES * CYCLES_PER_MACHINE;
      const day = dayVends * (perVendDisk + perVendLog) + 24 * (hourDisk + hourLog);
      const figures: Figure[] = [
        { label: 'ledger (db, WAL, checkpoints) per vend', value: kb(perVendDisk), unit: 'kB' },
        { label: 'journal (stdout at info) per vend', value: kb(perVendLog), unit: 'kB' },
        { label: 'ledger per idle hour (16 machines polled at 1 Hz)', value: kb(hourDisk), unit: 'kB' },
        { label: 'journal per idle hour', value: kb(hourLog), unit: 'kB' },
        { label: `a day: ${dayVends} vends + 24 idle hours, ledger`, value: round((dayVends * perVendDisk + 24 * hourDisk) / MB, 2), unit: 'MB' },
        { label: `a day: ${dayVends} vends + 24 idle hours, journal`, value: round((dayVends * perVendLog + 24 * hourLog) / MB, 2), unit: 'MB' },
        { label: `a day of a ${ROOM_MACHINES}-machine room at ${CYCLES_PER_MACHINE} cycles each, in all`, value: round(day / MB, 2), unit: 'MB', target: `≤ ${DAY_TARGET_MB} MB`, pass: day / MB <= DAY_TARGET_MB },
      ];
      const top = (xs: Array<[string, { lines: number; bytes: number }]>, per: number, what: string): string =>
        `${what}: ${xs.slice(0, 6).map(([k, v]) => `"${k}" ${round(v.lines / per, 1)} lines ${kb(v.bytes / per)} kB`).join('; ') || 'nothing'}`;
      const files = (m: Map<string, number> | null, per: number, what: string): string =>
        m === null ? `${what}: strace not available, no split by file` : `${what}, by file (write syscalls): ${[...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${kb(v / per)} kB`).join(', ') || 'nothing'}`;
      return {
        name: 'sd-writes',
        figures,
        notes: [
          `ledger on the repository disk, journal_mode ${sync.journal}, page size ${sync.pageSize} B, synchronous=FULL (storage/db.ts sets it and reads it back on every open, or refuses to run); ${ROOM_MACHINES} LW-485 machines polled at 1 Hz, simulator at 30x (each simulated minute lasts 2 s: the poller sees every countdown minute)`,
          `checkpoints in the vend window: ${backgroundInWindow} by the daemon's policy (${policy === null ? 'none: SQLite\'s own' : `a worker thread, once ${CHECKPOINT_WAL_BYTES / 1024 / 1024} MiB of WAL wait`}), then one at its end: ${checkpoint[0]?.checkpointed ?? '?'} of ${checkpoint[0]?.log ?? '?'} WAL frames copied into ledger.db (all counted in the vend window)`,
          `status events still waiting at the end of the vend window, written then in one commit: ${endsFlushed}`,
          `the ledger held ${historyVends} vends of history over 200 accounts, acknowledged, before the daemon opened it`,
          `idle window ${idleS.toFixed(0)} s; vend window ${vendS.toFixed(0)} s for ${n} captured vends, swiped one at a time ${spacingSeconds} s apart (declined and retried: ${[...r.other].map(([k, v]) => `${k} × ${v}`).join(', ') || 'none'})`,
          top(diffMsgs(l0.byMsg, l1.byMsg), idleS / 3600, 'journal per idle hour, top messages'),
          top(diffMsgs(l1.byMsg, l3.byMsg), n, 'journal per vend (with its idle share), top messages'),
          files(idleFiles, idleS / 3600, 'ledger per idle hour'),
          files(vendFiles, n, 'ledger per vend (with its idle share)'),
          'storage bytes are write_bytes of /proc/self/io (page-granular, what reaches the device); journald adds its own per-entry overhead on top of the stdout bytes',
          loadNote(),
        ],
      };
    } finally {
      await rig.close();
    }
  } finally {
    tmp.cleanup();
  }
}

const bench: BenchModule = { name: 'sd-writes', title: 'SD card write budget: bytes per vend, per idle hour, per day', run };
export default bench;

// Checkpoints off the event loop (storage/wal-checkpoints.ts): with backgroundCheckpoints no
// commit checkpoints by itself, the WAL is copied into ledger.db by a worker thread's PASSIVE
// checkpoint once enough frames wait, commits go on while it runs, and nothing is lost.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openLedgerReadOnly } from '../../storage/readonly.js';
import { CheckpointThread } from '../../storage/wal-checkpoints.js';
import { GATEWAY_ID, openTestLedger, tempDir } from './helpers.js';

/** Commits until at least `frames` WAL frames wait (top-ups: small commits as in a room). */
function fill(l: ReturnType<typeof openTestLedger>, frames: number, tag: string): number {
  let n = 0;
  const cp = l.walCheckpoints;
  assert.ok(cp !== null);
  while (cp.pending() < frames) {
    l.applyTopUp({ cloudId: `${tag}-${n}`, accountId: `acct-${n % 7}`, amountCents: 100, accountVersion: n + 1 });
    n++;
  }
  return n;
}

test('no checkpoint inside a commit: the WAL grows past 1 000 frames until the policy runs one in a worker', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'), { backgroundCheckpoints: { thresholdFrames: 1000 } });
  let topUps = 0;
  try {
    const cp = l.walCheckpoints;
    assert.ok(cp !== null);
    topUps = fill(l, 1300, 'a');
    assert.ok(cp.state().frames >= 1300, 'SQLite did not checkpoint at 1 000');
    const seen: { pending: number; copied: number; startedAt: number; endedAt: number }[] = [];
    cp.onCheckpoint = (c) => seen.push(c);
    const run = cp.tick();
    assert.ok(run !== null, 'a background checkpoint started');
    // Commits go on while the worker copies.
    l.applyTopUp({ cloudId: 'during', accountId: 'acct-x', amountCents: 5, accountVersion: 1 });
    await run;
    assert.equal(cp.counts.background, 1);
    assert.equal(seen.length, 1, 'the listener is told of each background checkpoint');
    assert.ok((seen[0]?.pending ?? 0) >= 1300 && (seen[0]?.copied ?? 0) >= 1300 && (seen[0]?.endedAt ?? 0) >= (seen[0]?.startedAt ?? 1), JSON.stringify(seen));
    assert.ok(cp.pending() < 50, `pending after the checkpoint: ${cp.pending()}`);
    // The next commit starts the WAL over.
    l.applyTopUp({ cloudId: 'after', accountId: 'acct-x', amountCents: 5, accountVersion: 2 });
    assert.ok(cp.state().frames < 50, `frames after the restart: ${cp.state().frames}`);
    assert.equal(cp.tick(), null, 'below the threshold: nothing to do');
    assert.ok(l.selfCheck().ok);
    const total = [0, 1, 2, 3, 4, 5, 6].reduce((s, i) => s + (l.balance(`acct-${i}`)?.balanceCents ?? 0), 0);
    assert.equal(total, topUps * 100);
  } finally {
    l.close();
  }
  // What the worker copied is in ledger.db: a fresh connection after close sees everything.
  const db = new Database(t.file('l.db'), { readonly: true });
  try {
    assert.equal((db.prepare("SELECT COUNT(*) AS n FROM entries WHERE kind = 'topup'").get() as { n: number }).n, topUps + 2);
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
    t.cleanup();
  }
});

test('one checkpoint thread serves a drain of checkpoints; it ends when idle and on stop, and the next checkpoint starts another', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'), { backgroundCheckpoints: { thresholdFrames: 300, threadIdleMs: 150 } });
  try {
    const cp = l.walCheckpoints;
    assert.ok(cp !== null);
    for (let round = 0; round < 3; round++) {
      fill(l, 350, `r${round}`);
      await cp.tick();
      // The next commit starts the WAL over: the rounds are separate checkpoints.
      l.applyTopUp({ cloudId: `restart-${round}`, accountId: 'acct-x', amountCents: 1, accountVersion: round + 1 });
    }
    assert.equal(cp.counts.background >= 3, true, `checkpoints: ${cp.counts.background}`);
    assert.equal(cp.threadsStarted, 1, 'one thread for the three');
    await sleep(400);
    fill(l, 350, 'later');
    await cp.tick();
    assert.equal(cp.threadsStarted, 2, 'the idle thread ended; the next checkpoint started another');
    assert.ok(cp.pending() < 50);
    await cp.stop();
    assert.ok(l.selfCheck().ok);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('past the hard limit the checkpoint runs on the loop; a ledger without the option checkpoints as SQLite does', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'), { backgroundCheckpoints: { thresholdFrames: 100, hardLimitFrames: 200 } });
  const plain = openTestLedger(t.file('p.db'));
  try {
    assert.equal(plain.walCheckpoints, null);
    fill(l, 250, 'b');
    assert.equal(l.walCheckpoints?.tick(), null, 'done at once, not in a worker');
    assert.equal(l.walCheckpoints?.counts.onLoop, 1);
    assert.ok((l.walCheckpoints?.pending() ?? 99) < 10);
    // A worker on a file that is not a ledger fails with a reason, and nothing breaks.
    const thread = new CheckpointThread();
    try {
      await assert.rejects(thread.run(t.file('missing.db')), /unable to open|does not exist|SQLITE_CANTOPEN/i);
    } finally {
      await thread.close();
    }
  } finally {
    l.close();
    plain.close();
    t.cleanup();
  }
});

test("looking at the WAL never drops SQLite's locks: a CLI opening the ledger read-only beside the daemon cannot truncate its wal-index", async () => {
  // Closing a descriptor of the -shm drops every POSIX lock the process holds on it; the policy
  // used to open and close it at each look, and then a read-only open from another process found
  // the wal-index unowned, truncated it, and the daemon died of SIGBUS.
  const t = tempDir();
  const path = t.file('l.db');
  openTestLedger(path).close();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./wal-shm-child.ts', import.meta.url)), path, '4000'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let opens = 0;
  try {
    while (!out.includes('ready')) await sleep(20);
    while (child.exitCode === null && child.signalCode === null) {
      const ro = openLedgerReadOnly({ path, gatewayId: GATEWAY_ID, roomSecretPath: t.file('no-secret') });
      ro.close();
      opens++;
      await sleep(5);
    }
    const end = await exited;
    assert.deepEqual(end, { code: 0, signal: null }, `the ledger's process after ${opens} read-only opens: ${out}`);
    assert.ok(opens > 20, `read-only opens: ${opens}`);
  } finally {
    child.kill('SIGKILL');
    t.cleanup();
  }
});

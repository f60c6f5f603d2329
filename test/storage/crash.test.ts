// A real crash test: a child process works the ledger file and is killed with SIGKILL at
// random moments, again and again on the same file. After each kill the file must be whole,
// the audit chain must verify, the outbox seq must be gap-free, every vend must be either
// unfinished or finished exactly once, and every fact the child reported must be there.
// LEDGER_CRASH_ITERATIONS sets the number of kills (default 50); LEDGER_CRASH_LANES the number
// of files worked in parallel (default 1: the next child loads while the last one runs);
// LEDGER_CRASH_TIMEOUT_MS the test's time limit (default 180 s); LEDGER_CRASH_KILL_MS the latest
// moment of a kill after the child is ready (default 120 ms).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { prepareCrashChild, type ChildCommand } from './child.js';
import { GATEWAY_ID, ROOM_SECRET, openTestLedger, tempDir } from './helpers.js';

const ITERATIONS = Number(process.env.LEDGER_CRASH_ITERATIONS ?? '50');
const LANES = Number(process.env.LEDGER_CRASH_LANES ?? '1');
// Under arm64 emulation each child takes seconds to start (scripts/arm64/test.sh raises this).
const TIMEOUT_MS = Number(process.env.LEDGER_CRASH_TIMEOUT_MS ?? '180000');
// Each kill comes 0..KILL_MS after the child says ready (emulated children need longer to work).
const KILL_MS = Number(process.env.LEDGER_CRASH_KILL_MS ?? '120');
let child: ChildCommand = { args: [], cleanup: () => undefined };
before(() => {
  child = prepareCrashChild();
});
after(() => child.cleanup());

interface Armed {
  /** Lets the child open the file, then kills it killAfterMs after it says ready. */
  run(killAfterMs: number): Promise<string[]>;
  /** Kills a child that was never run (a failed check must not leave it waiting). */
  dispose(): void;
}

/** Spawned ahead of time: module loading overlaps with the parent's checks of the last kill. */
function spawnChild(path: string, seed: number): Armed {
  const proc = spawn(process.execPath, [...child.args, 'vends', path, GATEWAY_ID, ROOM_SECRET.toString('hex'), String(seed)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, WAIT_FOR_GO: '1' },
  });
  let out = '';
  let err = '';
  let onReady: (() => void) | undefined;
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    if (onReady && out.includes('ready\n')) {
      onReady();
      onReady = undefined;
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<string[]>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(out.split('\n').filter((l) => l.length > 0));
      else reject(new Error(`child ended by itself (code ${String(code)}): ${err}`));
    });
  });
  exited.catch(() => undefined);
  return {
    run(killAfterMs) {
      onReady = () => setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      proc.stdin.end('go\n');
      return exited;
    },
    dispose() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

function checkAfterCrash(path: string, lines: readonly string[], label: string): { vends: number } {
  const l = openTestLedger(path);
  try {
    const integrity = l.integrityCheck();
    assert.equal(integrity.ok, true, `${label}: integrity ${integrity.messages.join('; ')}`);
    const audit = l.verifyAudit();
    assert.equal(audit.ok, true, `${label}: audit ${JSON.stringify(audit)}`);
    const self = l.selfCheck();
    assert.deepEqual(self.problems, [], `${label}: self-check`);
    const acked = l.outbox.stats().ackedSeq;
    // Only pruning makes a vend disappear, and only one reported finished before it began.
    const finished = new Set<string>();
    const prunable = new Set<string>();
    for (const line of lines) {
      const [tag, arg] = line.split(' ');
      if (tag === 'C' || tag === 'R') finished.add(arg ?? '');
      if (tag === 'Q') for (const id of finished) prunable.add(id);
    }
    const present = (id: string, what: string): boolean => {
      if (l.getVend(id)) return true;
      assert.ok(prunable.has(id), `${label}: reported ${what} ${id} lost`);
      return false;
    };
    for (const line of lines) {
      const [tag, arg] = line.split(' ');
      if (arg === undefined) continue;
      if (tag === 'H') present(arg, 'hold');
      if (tag === 'C' && present(arg, 'capture')) assert.equal(l.getVend(arg)?.state, 'captured', `${label}: reported capture lost`);
      if (tag === 'R' && present(arg, 'refund')) assert.equal(l.getVend(arg)?.state, 'refunded', `${label}: reported refund lost`);
      if (tag === 'A') assert.ok(acked >= Number(arg), `${label}: reported ack ${arg} lost (acked ${acked})`);
      if (tag === 'L') assert.ok(l.cardListVersion() >= Number(arg), `${label}: reported card list ${arg} lost`);
      if (tag === 'P') {
        const [acct = '', version = '0'] = arg.split(':');
        assert.ok((l.balance(acct)?.snapshotVersion ?? 0) >= Number(version), `${label}: reported snapshot ${arg} lost`);
      }
    }
    return { vends: l.stats().vends };
  } finally {
    l.close();
  }
}

function checkRawFacts(path: string, lines: readonly string[], label: string): void {
  const raw = new Database(path, { readonly: true });
  try {
    lines.forEach((line, i) => {
      const [tag, arg] = line.split(' ');
      // After a "Q" (everything acked, covering snapshots, then retention) a top-up's entry may be
      // gone on purpose: its snapshot holds it and the version rule refuses it (docs/ledger.md).
      const prunedSince = lines.slice(i + 1).some((l) => l === 'Q');
      if (tag === 'T' && !prunedSince) assert.ok(raw.prepare('SELECT 1 FROM entries WHERE cloud_id = ?').get(arg), `${label}: reported top-up ${String(arg)} lost`);
      if (tag === 'X') assert.ok(raw.prepare('SELECT 1 FROM outbox_dead WHERE seq = ?').get(Number(arg)), `${label}: reported dead letter lost`);
    });
    // Money records leave the outbox only by ack or into dead letters: never dropped.
    const dup = raw.prepare('SELECT COUNT(*) AS n FROM outbox o JOIN outbox_dead d ON d.seq = o.seq').get() as { n: number };
    assert.equal(dup.n, 0, `${label}: a record is both queued and dead`);
  } finally {
    raw.close();
  }
}

async function lane(dir: ReturnType<typeof tempDir>, laneNo: number, kills: number): Promise<{ reported: number; vends: number }> {
  const path = dir.file(`crash-${laneNo}.db`);
  openTestLedger(path).close();
  let reported = 0;
  let vends = 0;
  let next = spawnChild(path, laneNo * 100000 + 1);
  try {
    for (let i = 0; i < kills; i++) {
      const label = `lane ${laneNo} kill ${i + 1}`;
      const running = next.run(Math.floor(Math.random() * KILL_MS));
      if (i + 1 < kills) next = spawnChild(path, laneNo * 100000 + i + 2);
      const lines = await running;
      reported += lines.filter((x) => /^[HCRSTAXLP] /.test(x)).length;
      vends = checkAfterCrash(path, lines, label).vends;
      checkRawFacts(path, lines, label);
    }
  } finally {
    next.dispose();
  }
  // One last clean start reconciles everything the kills left behind.
  const l = openTestLedger(path);
  try {
    for (const v of l.unfinishedVends()) assert.ok(l.refund(v.vendId, { reason: 'reconciled' }).ok);
    assert.deepEqual(l.unfinishedVends(), []);
    assert.deepEqual(l.selfCheck().problems, []);
    const v = l.verifyAudit();
    assert.ok(v.ok, JSON.stringify(v));
    // Not vacuous: the kills left money rows, every one bound, and an acknowledged anchor proved.
    assert.ok(v.money.links > 0 && v.money.vends > 0, JSON.stringify(v.money));
    assert.ok(v.anchors.some((a) => a.chain === 'money' && a.result === 'contained'), JSON.stringify(v.anchors));
  } finally {
    l.close();
  }
  return { reported, vends };
}

test(`ledger survives ${ITERATIONS} SIGKILLs at random moments`, { timeout: TIMEOUT_MS }, async () => {
  const dir = tempDir('ledger-crash-');
  try {
    const perLane = Math.ceil(ITERATIONS / LANES);
    const results = await Promise.all(Array.from({ length: LANES }, (_, n) => lane(dir, n, n === LANES - 1 ? ITERATIONS - perLane * (LANES - 1) : perLane)));
    const reported = results.reduce((s, r) => s + r.reported, 0);
    const vends = results.reduce((s, r) => s + r.vends, 0);
    assert.ok(reported > 0, 'the children did some work before being killed');
    assert.ok(vends > 0);
  } finally {
    dir.cleanup();
  }
});

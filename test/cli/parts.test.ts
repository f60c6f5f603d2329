// The parts under the CLI, each on its own: the control server's socket life cycle (a second
// instance refused, a crashed one's socket replaced, a foreign file left alone), the read-only
// ledger handing side files back to the ledger's owner, and the watchdog's health verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock, type Clock } from '../../gateway/core/clock.js';
import { ControlServer } from '../../gateway/control/server.js';
import { controlRequest } from '../../gateway/control/client.js';
import type { ControlTarget } from '../../gateway/control/target.js';
import { openLedger } from '../../storage/index.js';
import { openLedgerReadOnly } from '../../storage/readonly.js';
import { HealthMonitor } from '../../gateway/cli/health.js';
import { waitUntil } from './harness.js';

function ledgerIn(dir: string): ReturnType<typeof openLedger> {
  return openLedger({ path: join(dir, 'ledger.db'), roomSecret: Buffer.alloc(32, 1), gatewayId: 'room-t', bootId: 'b', clock: systemClock, logger: silentLogger() });
}

/** A target with a real ledger and no bus: enough for the socket's life cycle. */
function targetWith(ledger: ReturnType<typeof openLedger>): ControlTarget {
  return { room: { id: 'room-t', name: null }, bootId: 'b', ledger, buses: [], blockedMachines: () => [], clockTrusted: () => true };
}

test('control server: one instance per socket, a dead socket is replaced, a foreign file is not touched', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-'));
  const ledger = ledgerIn(dir);
  const socketPath = join(dir, 'run', 'control.sock');
  const deps = { logger: silentLogger(), clock: systemClock };
  try {
    const a = new ControlServer(targetWith(ledger), { socketPath }, deps);
    await a.start();
    const ok = await controlRequest({ socketPath }, { cmd: 'tx', limit: 5 });
    assert.equal(ok.kind, 'ok');
    const scan = await controlRequest({ socketPath }, { cmd: 'bus.scan' });
    assert.equal(scan.kind === 'error' && scan.code, 'unknown_bus');

    const b = new ControlServer(targetWith(ledger), { socketPath }, deps);
    await assert.rejects(b.start(), /another process is listening/);
    assert.equal((await controlRequest({ socketPath }, { cmd: 'outbox' })).kind, 'ok', 'the first instance is unharmed');
    await a.stop();
    assert.ok(!existsSync(socketPath));
    assert.equal((await controlRequest({ socketPath }, { cmd: 'outbox' })).kind, 'not-running');

    // a process that dies without cleaning up leaves its socket file behind
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.stdout.write('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((resolve) => crashed.stdout.once('data', () => resolve()));
    crashed.kill('SIGKILL');
    await new Promise((r) => crashed.once('exit', r));
    assert.ok(statSync(socketPath).isSocket(), 'stale socket left behind');
    assert.equal((await controlRequest({ socketPath }, { cmd: 'outbox' })).kind, 'not-running', 'a dead socket refuses: daemon not running');
    const c = new ControlServer(targetWith(ledger), { socketPath }, deps);
    await c.start();
    assert.equal((await controlRequest({ socketPath }, { cmd: 'outbox' })).kind, 'ok');
    await c.stop();

    writeFileSync(socketPath, 'not a socket');
    const d = new ControlServer(targetWith(ledger), { socketPath }, deps);
    await assert.rejects(d.start(), /is not a socket/);
    assert.ok(existsSync(socketPath));
  } finally {
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('read-only ledger: reads without writing, and side files it creates go to the ledger owner', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'ro-'));
  try {
    const ledger = ledgerIn(dir);
    ledger.enqueueEvent('machine_state', { machineId: 'W1' });
    ledger.close();
    const path = join(dir, 'ledger.db');
    assert.ok(!existsSync(`${path}-wal`), 'a clean close removes the WAL');
    chownSync(path, 12345, 12346);
    const ro = openLedgerReadOnly({ path, gatewayId: 'room-t', roomSecretPath: join(dir, 'none') });
    assert.equal(ro.outbox.stats().depth, 1);
    assert.equal(ro.verifyAudit().ok, true);
    assert.throws(() => ro.lookupCard('04A2B9C1'), /cannot read the room secret/);
    ro.close();
    for (const f of [`${path}-wal`, `${path}-shm`]) {
      if (!existsSync(f)) continue;
      const st = statSync(f);
      assert.deepEqual([st.uid, st.gid], [12345, 12346], `${f} belongs to the ledger's owner`);
    }
    assert.throws(() => openLedgerReadOnly({ path: join(dir, 'missing.db'), gatewayId: 'x', roomSecretPath: 'x' }), /no ledger at/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('health: a bus without a poll cycle for too long is unhealthy; a blocked event loop is too', async () => {
  let mono = 0;
  const clock: Clock = { now: () => 0, monotonic: () => mono };
  const listeners: Array<() => void> = [];
  const bus = {
    id: 'bus1',
    onCycle: (l: () => void) => {
      listeners.push(l);
      return () => listeners.splice(listeners.indexOf(l), 1);
    },
  };
  const h = new HealthMonitor([bus], { maxCycleAgeMs: 30_000, maxLagMs: 600_000 }, clock);
  h.start();
  assert.deepEqual(h.check(), { ok: true });
  mono = 29_000;
  assert.deepEqual(h.check(), { ok: true }, 'start-up counts as a cycle');
  mono = 31_000;
  assert.deepEqual(h.check(), { ok: false, reason: 'bus bus1: no poll cycle for 31 s' });
  for (const l of listeners) l();
  assert.deepEqual(h.check(), { ok: true });
  h.stop();
  assert.equal(listeners.length, 0);

  const lag = new HealthMonitor([], { maxCycleAgeMs: 1000, maxLagMs: 100 }, systemClock);
  lag.start();
  const until = Date.now() + 400;
  while (Date.now() < until) {
    // the event loop is blocked, as by a synchronous stall
  }
  let verdict = lag.check();
  await waitUntil(() => {
    verdict = verdict.ok ? lag.check() : verdict;
    return !verdict.ok;
  }, 'the lag to be seen');
  assert.match(verdict.ok ? '' : verdict.reason, /^event loop lagged \d+ ms$/);
  lag.stop();
});

// The reference consumer as a real process (simulator/cloud/main.ts), as the demo runs it:
// it stores the gateway's batches in its SQLite file and acks them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { freePort, startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { ROOM, enqueue, makeUplink, tempDir, testLedger, waitFor } from './helpers.js';

test('the cloud consumer CLI stores and acks a gateway backlog', async () => {
  const broker = await startMosquitto();
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 300);
  const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/cloud/main.ts', '--url', broker.url, '--db', t.file('cloud.db')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 100 } });
  try {
    await waitFor(() => out.includes('cloud consumer running'), 'consumer up');
    await up.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained through the CLI consumer');
    child.kill('SIGTERM');
    await new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
    const db = new Database(t.file('cloud.db'), { readonly: true });
    const rows = db.prepare('SELECT seq FROM records WHERE gateway = ? ORDER BY seq').all(ROOM) as { seq: number }[];
    db.close();
    assert.deepEqual(rows.map((r) => r.seq), Array.from({ length: 300 }, (_, i) => i + 1));
    assert.match(out, /batch stored/);
  } finally {
    child.kill('SIGKILL');
    await up.stop();
    ledger.close();
    await broker.close();
    t.cleanup();
  }
});

test('the cloud consumer CLI started before its broker waits for it instead of exiting', async () => {
  const port = await freePort();
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  enqueue(ledger, 50);
  const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/cloud/main.ts', '--url', `mqtt://127.0.0.1:${port}`, '--db', t.file('cloud.db')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  let broker: Broker | null = null;
  let up: ReturnType<typeof makeUplink> | null = null;
  try {
    await waitFor(() => out.includes('cloud mqtt error'), 'the consumer met a refused connection');
    assert.equal(child.exitCode, null, 'still running');
    broker = await startMosquitto({ port });
    await waitFor(() => out.includes('cloud consumer running'), 'consumer connected once the broker came');
    up = makeUplink(ledger, broker.url, {}, { batch: { maxCount: 20 } });
    await up.start();
    await waitFor(() => ledger.outbox.stats().depth === 0, 'drained through the late consumer');
  } finally {
    child.kill('SIGKILL');
    await up?.stop();
    ledger.close();
    await broker?.close();
    t.cleanup();
  }
});

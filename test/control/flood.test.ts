// Issue 13 case 3: the control socket under a flood. A client that pipelines 100 000 requests
// and reads no answer must not make the daemon buffer them (it stops reading until its last
// answer has left); idle connections up to the cap must not keep the CLI out; every request
// still gets its answer, in order, once the client reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { ControlServer } from '../../gateway/control/server.js';
import { controlRequest } from '../../gateway/control/client.js';
import { controlResponseSchema } from '../../gateway/control/protocol.js';
import type { ControlTarget } from '../../gateway/control/target.js';
import { openLedger, type Ledger } from '../../storage/index.js';

function room(): { dir: string; ledger: Ledger; target: ControlTarget; socketPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ctl-flood-'));
  const ledger = openLedger({ path: join(dir, 'ledger.db'), roomSecret: Buffer.alloc(32, 1), gatewayId: 'room-t', bootId: 'b', clock: systemClock, logger: silentLogger() });
  const target: ControlTarget = { room: { id: 'room-t', name: null }, bootId: 'b', ledger, buses: [], blockedMachines: () => [], clockTrusted: () => true };
  return { dir, ledger, target, socketPath: join(dir, 'control.sock') };
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

test('control socket: 100 000 pipelined requests, answers unread, are not buffered; the CLI still gets in', { timeout: 120_000 }, async () => {
  const r = room();
  const server = new ControlServer(r.target, { socketPath: r.socketPath }, { logger: silentLogger(), clock: systemClock });
  await server.start();
  try {
    const N = 100_000;
    const s = await connect(r.socketPath);
    s.on('error', () => undefined);
    s.pause(); // read nothing
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(`{"id":${i},"cmd":"status"}\n`);
    const rss0 = process.memoryUsage().rss;
    s.write(lines.join(''));
    await sleep(3000);
    const grown = process.memoryUsage().rss - rss0;
    // Before, the daemon answered every line into the socket's write buffer (the issue: 173 ->
    // 503 MB). Now it stops reading until its last answer has left: what it serves is bounded by
    // the kernel's socket buffer, whatever the client sent.
    const served = server.stats().requests;
    assert.ok(served < 2000, `${served} requests answered while the client read nothing`);
    assert.ok(grown < 40 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(0)} MB while the client read nothing`);
    const st = await controlRequest({ socketPath: r.socketPath, timeoutMs: 5000 }, { cmd: 'status' });
    assert.equal(st.kind, 'ok');
    s.destroy();
    const t0 = Date.now();
    while (server.stats().connections > 0 && Date.now() - t0 < 5000) await sleep(50);
    assert.equal(server.stats().connections, 0, 'the flooding connection is gone once closed');
  } finally {
    await server.stop();
    r.ledger.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('control socket: pipelined requests are all answered, in order, once the client reads', { timeout: 60_000 }, async () => {
  const r = room();
  const server = new ControlServer(r.target, { socketPath: r.socketPath }, { logger: silentLogger(), clock: systemClock });
  await server.start();
  try {
    const N = 3000;
    const s = await connect(r.socketPath);
    const lines: string[] = [];
    for (let i = 0; i < N; i++) lines.push(i % 100 === 7 ? `{"id":${i},"cmd":"nope"}\n` : `{"id":${i},"cmd":"tx","limit":1}\n`);
    s.pause();
    s.write(lines.join(''));
    await sleep(300);
    let buf = '';
    let next = 0;
    await new Promise<void>((resolve, reject) => {
      s.setEncoding('utf8');
      s.on('data', (d: string) => {
        buf += d;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buf.slice(0, nl)) as { id: number; ok: boolean };
          buf = buf.slice(nl + 1);
          if (msg.id !== next || msg.ok !== (next % 100 !== 7)) return reject(new Error(`answer ${next}: got ${JSON.stringify(msg)}`));
          next++;
          if (next === N) return resolve();
        }
      });
      s.resume();
    });
    assert.equal(next, N);
    s.destroy();
  } finally {
    await server.stop();
    r.ledger.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('control socket: idle connections up to the cap do not keep the CLI out, and are closed after the idle timeout', { timeout: 60_000 }, async () => {
  const r = room();
  const server = new ControlServer(r.target, { socketPath: r.socketPath, maxConnections: 8, idleTimeoutMs: 1500 }, { logger: silentLogger(), clock: systemClock });
  await server.start();
  const idle: Socket[] = [];
  try {
    for (let i = 0; i < 12; i++) {
      const s = await connect(r.socketPath);
      s.on('error', () => undefined);
      idle.push(s);
    }
    await sleep(100);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const st = await controlRequest({ socketPath: r.socketPath, timeoutMs: 3000 }, { cmd: 'status' });
      assert.equal(st.kind, 'ok', `status beside 12 idle connections: ${JSON.stringify(st)}`);
      assert.ok(Date.now() - t0 < 3000);
    }
    assert.ok(server.stats().connections <= 8);
    assert.ok((server.stats().refused['evicted'] ?? 0) >= 4, JSON.stringify(server.stats()));
    // idle ones go after the timeout
    const t0 = Date.now();
    while (server.stats().connections > 0 && Date.now() - t0 < 10_000) await sleep(100);
    assert.equal(server.stats().connections, 0);
  } finally {
    for (const s of idle) s.destroy();
    await server.stop();
    r.ledger.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('control socket: an invalid request id is not echoed, so every answer has the protocol shape (found by the fuzz)', { timeout: 30_000 }, async () => {
  const r = room();
  const server = new ControlServer(r.target, { socketPath: r.socketPath }, { logger: silentLogger(), clock: systemClock });
  await server.start();
  try {
    const s = await connect(r.socketPath);
    s.setEncoding('utf8');
    let buf = '';
    const got = new Promise<string[]>((resolve) => {
      s.on('data', (d: string) => {
        buf += d;
        const lines = buf.split('\n').filter((l) => l !== '');
        if (lines.length === 3) resolve(lines);
      });
    });
    s.write(`{"cmd":"status","id":-5e-324}\n{"cmd":"nope","id":"${'x'.repeat(100)}"}\n{"cmd":"tx","id":7}\n`);
    const answers = (await got).map((l) => controlResponseSchema.parse(JSON.parse(l)));
    assert.deepEqual(answers.map((a) => a.id), [null, null, 7]);
    s.destroy();
  } finally {
    await server.stop();
    r.ledger.close();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

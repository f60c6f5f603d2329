// doctor's checks against real things: a pty as a reader device, a missing bus adapter, a TCP
// listener as the broker and a closed port, a ledger file with a page scribbled over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { runConfigSchema, type Endpoints } from '../../gateway/cli/config.js';
import { doctor, formatDoctor, type CheckResult } from '../../gateway/cli/doctor.js';
import { openLedger } from '../../storage/index.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { openPtyPair } from '../helpers/pty.js';

function levelOf(results: CheckResult[], check: string): string | undefined {
  return results.find((r) => r.check === check)?.level;
}

test('doctor: devices, broker, database and daemon, each with a verdict an operator can act on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-'));
  const pty = await openPtyPair();
  const broker = createServer((s) => s.destroy());
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  const addr = broker.address();
  const brokerPort = typeof addr === 'object' && addr ? addr.port : 0;
  try {
    const dbPath = join(dir, 'ledger.db');
    const ledger = openLedger({ path: dbPath, roomSecret: Buffer.alloc(32, 2), gatewayId: 'demo-room', bootId: 'b', clock: systemClock, logger: silentLogger() });
    ledger.close();
    const demo = demoGatewayConfig({ tcpPort: 1502, dbPath, qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    const config = runConfigSchema.parse({
      ...demo,
      buses: demo.buses.map((b) => ({ ...b, transport: { type: 'serial', path: join(dir, 'no-such-adapter') } })),
      readers: [{ id: 'r-w1', type: 'line', path: pty.a, attachedTo: { machineId: 'W1' } }],
    });
    // the raw file carries an mqtt block (read loosely: the root schema may not know it yet)
    const configPath = join(dir, 'config.json');
    const write = (url: string): void => writeFileSync(configPath, JSON.stringify({ ...demo, mqtt: { url } }));
    const endpoints: Endpoints = {
      configPath,
      socketPath: join(dir, 'control.sock'),
      ledger: { path: dbPath, gatewayId: 'demo-room', roomSecretPath: join(dir, 'room-secret') },
      config,
      configErrors: [],
    };
    const opts = { endpoints, byIdDir: join(dir, 'by-id'), timesyncFlag: join(dir, 'synchronized'), connectTimeoutMs: 5000 };

    write(`mqtt://127.0.0.1:${brokerPort}`);
    writeFileSync(join(dir, 'synchronized'), '');
    const r1 = await doctor(opts);
    assert.equal(levelOf(r1, 'config'), 'ok');
    assert.equal(levelOf(r1, 'device bus bus1'), 'fail', formatDoctor(r1));
    assert.match(r1.find((r) => r.check === 'device bus bus1')?.detail ?? '', /does not exist/);
    assert.equal(levelOf(r1, 'device reader r-w1'), 'warn', 'present and read-write, but not a stable name');
    assert.equal(levelOf(r1, 'serial adapters'), 'warn');
    assert.equal(levelOf(r1, 'database integrity'), 'ok');
    assert.equal(levelOf(r1, 'clock sync'), 'ok');
    assert.equal(levelOf(r1, 'broker'), 'ok', formatDoctor(r1));
    assert.equal(levelOf(r1, 'daemon'), 'fail', 'nothing listens on the socket');

    broker.close();
    write(`mqtt://127.0.0.1:${brokerPort}`);
    const r2 = await doctor(opts);
    assert.equal(levelOf(r2, 'broker'), 'fail');

    // every page but the header page scribbled over: whatever the schema, the b-trees are garbage
    const size = statSync(dbPath).size;
    const fd = openSync(dbPath, 'r+');
    // the page size is in the header (bytes 16-17): new ledgers use 1 KiB pages
    const header = Buffer.alloc(100);
    readSync(fd, header, 0, 100, 0);
    const page = header.readUInt16BE(16);
    for (let off = page; off < size; off += page) writeSync(fd, Buffer.alloc(page, 0xa5), 0, page, off);
    closeSync(fd);
    const r3 = await doctor({ ...opts, endpoints: { ...endpoints, config: null, configErrors: ['config.json: broken'] } });
    assert.equal(levelOf(r3, 'config'), 'fail');
    assert.equal(levelOf(r3, 'database integrity'), 'fail', formatDoctor(r3));
  } finally {
    broker.close();
    await pty.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

// Issue 13 cases 6 and 7 on the host: the ledger's files are created 0600 whatever the umask (and
// its backups too), a room secret others can read is closed again and reported, and doctor warns
// of a config file others can read and of a status page listening beyond loopback.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { runConfigSchema, type Endpoints } from '../../gateway/cli/config.js';
import { doctor, formatDoctor } from '../../gateway/cli/doctor.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { openLedger } from '../../storage/index.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

test('case 7: the ledger, its WAL and shm, and a backup are 0600 under umask 022', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modes-'));
  const old = process.umask(0o022);
  try {
    const path = join(dir, 'ledger.db');
    const l = openLedger({ path, roomSecret: Buffer.alloc(32, 3), gatewayId: 'r', bootId: 'b', clock: systemClock, logger: silentLogger() });
    l.appendAlert({ code: 'test', message: 'a write, so the WAL exists' });
    for (const f of [path, `${path}-wal`, `${path}-shm`]) {
      assert.ok(existsSync(f), f);
      assert.equal(mode(f), '600', f);
    }
    await l.backup(join(dir, 'copy.db'));
    assert.equal(mode(join(dir, 'copy.db')), '600');
    l.close();
  } finally {
    process.umask(old);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('case 7: a room secret readable by others is set back to 0600 and reported', () => {
  const dir = mkdtempSync(join(tmpdir(), 'secret-'));
  try {
    const p = join(dir, 'room-secret');
    const a = loadOrCreateRoomSecret(p);
    assert.equal(mode(p), '600');
    chmodSync(p, 0o644);
    const heard: string[] = [];
    const b = loadOrCreateRoomSecret(p, (w) => heard.push(w));
    assert.deepEqual(a, b);
    assert.equal(mode(p), '600');
    assert.equal(heard.length, 1);
    assert.match(heard[0] ?? '', /had mode 644/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('case 6/7: doctor warns of a page on 0.0.0.0 and a config file others can read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'doctor-exp-'));
  try {
    const dbPath = join(dir, 'ledger.db');
    const demo = demoGatewayConfig({ tcpPort: 1502, dbPath, qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    const configPath = join(dir, 'config.json');
    const run = async (web: { host: string }, fileMode: number) => {
      const raw = { ...demo, web: { ...demo.web, ...web } };
      writeFileSync(configPath, JSON.stringify(raw));
      chmodSync(configPath, fileMode);
      const endpoints: Endpoints = { configPath, socketPath: join(dir, 'control.sock'), ledger: null, config: runConfigSchema.parse(raw), configErrors: [] };
      return doctor({ endpoints, byIdDir: join(dir, 'by-id'), timesyncFlag: join(dir, 'sync'), connectTimeoutMs: 200 });
    };
    const bad = await run({ host: '0.0.0.0' }, 0o644);
    const web = bad.find((r) => r.check === 'web exposure');
    assert.equal(web?.level, 'warn', formatDoctor(bad));
    assert.match(web?.detail ?? '', /0\.0\.0\.0 over plain HTTP/);
    assert.equal(bad.find((r) => r.check === 'config file mode')?.level, 'warn');
    const good = await run({ host: '127.0.0.1' }, 0o640);
    assert.equal(good.find((r) => r.check === 'web exposure')?.level, 'ok');
    assert.equal(good.find((r) => r.check === 'config file mode')?.level, 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// `laundry-gateway doctor` says whether the building's broker of the homeAssistant block accepts
// connections: a real Mosquitto, then the same port closed, then no block at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runConfigSchema, type Endpoints } from '../../gateway/cli/config.js';
import { doctor } from '../../gateway/cli/doctor.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { startMosquitto } from '../helpers/mosquitto.js';

test('doctor checks the home assistant broker', { timeout: 60_000 }, async () => {
  const broker = await startMosquitto();
  const dir = mkdtempSync(join(tmpdir(), 'ha-doctor-'));
  const demo = demoGatewayConfig({ tcpPort: 1502, dbPath: join(dir, 'ledger.db'), qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
  const endpoints = (homeAssistant?: { url: string }): Endpoints => ({
    configPath: join(dir, 'config.json'),
    socketPath: join(dir, 'control.sock'),
    ledger: null,
    config: runConfigSchema.parse({ ...demo, ...(homeAssistant ? { homeAssistant } : {}) }),
    configErrors: [],
  });
  const check = async (e: Endpoints): Promise<{ level: string; detail: string } | undefined> =>
    (await doctor({ endpoints: e, byIdDir: join(dir, 'by-id'), timesyncFlag: join(dir, 'synchronized'), connectTimeoutMs: 2000 })).find((r) => r.check === 'home assistant broker');
  try {
    const up = await check(endpoints({ url: broker.url }));
    assert.equal(up?.level, 'ok', JSON.stringify(up));
    await broker.stop();
    const down = await check(endpoints({ url: broker.url }));
    assert.equal(down?.level, 'fail');
    assert.match(down?.detail ?? '', new RegExp(`127\\.0\\.0\\.1:${broker.port}`));
    const none = await check(endpoints());
    assert.equal(none?.level, 'skip', JSON.stringify(none));
  } finally {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

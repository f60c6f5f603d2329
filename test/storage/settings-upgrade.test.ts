// The features' typed settings over a ledger file from before them: the values the old code wrote
// as strings (JSON blobs, String(n)) read back typed, and written back unchanged touch nothing.
// An unreadable stored value gets the verdict each feature gave it before: the risk state is
// ignored (empty, logged), the room config is not loaded, a version counts as none, the list of
// used command ids refuses commands. Real files, the real downlink handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { loadRiskState, saveRiskState, RISK_STATE, RISK_STATE_KEY } from '../../gateway/engine/risk-store.js';
import { Downlinks, KEYS_VERSION, ROOM_CONFIG_VERSION } from '../../gateway/uplink/downlinks.js';
import { loadRoomConfig, persistRoomConfig } from '../../gateway/uplink/room-config.js';
import { parseRiskConfig, type RiskState } from '../../gateway/vend/risk.js';
import { publicKeyFromBase64url } from '../../protocols/mqtt/signing.js';
import { signDownlink } from '../../protocols/mqtt/sign-downlink.js';
import { settingOrUndefined, type Ledger } from '../../storage/index.js';
import { cloudKeys, ROOM } from '../uplink/helpers.js';
import { openTestLedger, withTestLedger } from './helpers.js';

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const RISK = parseRiskConfig({});
const keys = cloudKeys();
const configKey = publicKeyFromBase64url(keys.publicB64);

const lockedOut: RiskState = {
  cards: { ab12: { failures: [NOW - 1000], lockedUntil: NOW + 3_600_000, level: 1, lastLockoutAt: NOW - 1000, vends: [] } },
  readers: {},
};

function configEnvelope(version: number): { v: 1; config: string; sig: string } {
  const { envelope } = signDownlink(keys.privateKey, 'config', ROOM, { version, issuedAtSec: Math.floor(NOW / 1000) });
  return JSON.parse(envelope) as { v: 1; config: string; sig: string };
}

function commandEnvelope(id: string): unknown {
  const nowSec = Math.floor(Date.now() / 1000);
  return JSON.parse(signDownlink(keys.privateKey, 'commands', ROOM, { id, machineId: 'W1', kind: 'pause', issuedAtSec: nowSec - 5, expiresAtSec: nowSec + 300 }).envelope);
}

function downlinks(ledger: Ledger, seen: { rejects: string[]; ran: string[]; configs: number[] }): Downlinks {
  return new Downlinks({
    roomId: ROOM,
    gatewayId: ROOM,
    ledger,
    logger: silentLogger(),
    configKey,
    commands: { maxTtlSec: 900, skewSec: 30 },
    nowSec: () => Math.floor(Date.now() / 1000),
    nowMs: () => Date.now(),
    onRoomConfig: (cfg) => void seen.configs.push(cfg.version),
    commandTarget: { command: (c) => (seen.ran.push(c.id), Promise.resolve({ status: 'accepted' as const })) },
    reject: (r) => void seen.rejects.push(r.reason),
    commandResult: () => undefined,
  });
}

function logSink(): { logger: ReturnType<typeof createLogger>; lines: () => { msg: string; reason?: string; detail?: string }[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: dest }), lines: () => lines.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string }) };
}

test('upgrade: the values the old code wrote as strings read back typed, and written back unchanged add nothing to the WAL', () =>
  withTestLedger(async (old, path) => {
    // Exactly what the code before typed settings stored, through the string key-value store.
    old.setSetting(RISK_STATE_KEY, JSON.stringify(lockedOut));
    const env = configEnvelope(4);
    old.setSetting('uplink.roomConfig', JSON.stringify({ v: 1, config: env.config, sig: env.sig }));
    old.setNumberSetting('uplink.roomConfigVersion', 4);
    old.setNumberSetting('uplink.secureCardKeysVersion', 2);
    const exp = Math.floor(Date.now() / 1000) + 600;
    old.setSetting('uplink.usedCommandIds', JSON.stringify([{ id: 'c-old', exp }]));
    old.close();

    const ledger = openTestLedger(path);
    const wal = (): number => (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0);
    const before = wal();
    const state = loadRiskState(ledger, RISK, NOW, silentLogger());
    assert.deepEqual(state, lockedOut, 'the lockout survived the upgrade');
    assert.equal(loadRoomConfig(ledger, configKey, ROOM)?.version, 4);
    assert.equal(settingOrUndefined(ledger.readSetting(ROOM_CONFIG_VERSION)), 4);
    assert.equal(settingOrUndefined(ledger.readSetting(KEYS_VERSION)), 2);
    // Written back unchanged: the same text, so no write reaches the SD card.
    saveRiskState(ledger, RISK, state, NOW, silentLogger());
    persistRoomConfig(ledger, env);
    ledger.writeSetting(ROOM_CONFIG_VERSION, 4);
    ledger.writeSetting(KEYS_VERSION, 2);
    assert.equal(wal(), before, 'nothing written');
    assert.equal(ledger.getSetting(RISK_STATE_KEY), JSON.stringify(lockedOut));

    const seen = { rejects: [] as string[], ran: [] as string[], configs: [] as number[] };
    const d = downlinks(ledger, seen);
    await d.handle('commands', 'x', commandEnvelope('c-old'));
    await d.handle('config', 'x', configEnvelope(3));
    await d.handle('config', 'x', configEnvelope(4));
    assert.deepEqual(seen.rejects, ['replayed', 'old_version'], 'the old list of spent ids and the old version still hold');
    assert.deepEqual(seen.ran, []);
    await d.handle('commands', 'x', commandEnvelope('c-new'));
    assert.deepEqual(seen.ran, ['c-new']);
    ledger.close();
  }));

test('an unreadable risk state is logged and ignored: the empty state, and the next save writes a good one', () =>
  withTestLedger((ledger) => {
    for (const [text, reason] of [
      ['{"cards": 4', 'not_json'],
      ['{"cards": 42}', 'schema'],
    ] as const) {
      ledger.setSetting(RISK_STATE_KEY, text);
      const logs = logSink();
      assert.deepEqual(loadRiskState(ledger, RISK, NOW, logs.logger), { cards: {}, readers: {} });
      const err = logs.lines().find((l) => l.msg.startsWith('stored risk state is unreadable'));
      assert.equal(err?.reason, reason, JSON.stringify(logs.lines()));
    }
    saveRiskState(ledger, RISK, lockedOut, NOW, silentLogger());
    assert.deepEqual(ledger.readSetting(RISK_STATE), { status: 'ok', value: lockedOut });
  }));

test('an unreadable room config is not loaded; an unreadable version counts as none applied', () =>
  withTestLedger(async (ledger) => {
    for (const text of ['{', '{"v":1,"config":"{}"}', JSON.stringify({ ...configEnvelope(2), extra: 1 })]) {
      ledger.setSetting('uplink.roomConfig', text);
      assert.equal(loadRoomConfig(ledger, configKey, ROOM), null, text);
    }
    ledger.setSetting('uplink.roomConfigVersion', 'seven');
    const seen = { rejects: [] as string[], ran: [] as string[], configs: [] as number[] };
    await downlinks(ledger, seen).handle('config', 'x', configEnvelope(1));
    assert.deepEqual(seen, { rejects: [], ran: [], configs: [1] });
    assert.equal(settingOrUndefined(ledger.readSetting(ROOM_CONFIG_VERSION)), 1);
    assert.equal(loadRoomConfig(ledger, configKey, ROOM)?.version, 1, 'the applied config was persisted');
  }));

test('an unreadable list of used command ids refuses every command (fails closed) and is left as it was', () =>
  withTestLedger(async (ledger) => {
    for (const text of ['[{"id":', '[{"id":"c1"}]', '{"c1": 1}']) {
      ledger.setSetting('uplink.usedCommandIds', text);
      const seen = { rejects: [] as string[], ran: [] as string[], configs: [] as number[] };
      await downlinks(ledger, seen).handle('commands', 'x', commandEnvelope('c2'));
      assert.deepEqual(seen, { rejects: ['apply_failed'], ran: [], configs: [] }, text);
      assert.equal(ledger.getSetting('uplink.usedCommandIds'), text);
    }
  }));

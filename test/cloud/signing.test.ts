// The cloud's one signing module: what it signs, the gateway's own verifier accepts; it refuses
// to sign what a gateway would refuse; the config is strict at every depth.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseCloudConfig } from '../../cloud/config.js';
import { SIGNED_DOWNLINKS, signDownlink } from '../../cloud/signing.js';
import { roomConfigSchema, verifySigned } from '../../gateway/uplink/room-config.js';
import { DOWN_SCHEMAS, remoteCommandSchema } from '../../protocols/mqtt/payloads.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');

test('signing: a config and a command pass the gateway own envelope schema and verifier', () => {
  const cfg = signDownlink('config', 'room-1', { version: 3, issuedAtSec: 1_700_000_000 }, privateKey);
  assert.equal(cfg.topic, 'config');
  assert.equal(cfg.retain, true);
  const env = DOWN_SCHEMAS.config.parse(JSON.parse(cfg.payload));
  const v = verifySigned(env.config, env.sig, publicKey, roomConfigSchema, 'room-1');
  assert.ok(v.ok && v.value.version === 3);
  const cmd = signDownlink('command', 'room-1', { id: 'c-1', machineId: 'w1', kind: 'start', issuedAtSec: 100, expiresAtSec: 200 }, privateKey);
  assert.equal(cmd.retain, false, 'commands are never retained');
  const ce = DOWN_SCHEMAS.commands.parse(JSON.parse(cmd.payload));
  assert.ok(verifySigned(ce.command, ce.sig, publicKey, remoteCommandSchema, 'room-1').ok);
  assert.equal(verifySigned(ce.command, ce.sig, publicKey, remoteCommandSchema, 'room-2').ok, false);
});

test('signing: refuses what a gateway would refuse, and a body that sets type or roomId', () => {
  assert.throws(() => signDownlink('command', 'room-1', { id: 'c-1', machineId: 'w1', kind: 'addTime', issuedAtSec: 100, expiresAtSec: 200 }, privateKey), /addTime needs args/);
  assert.throws(() => signDownlink('config', 'room-1', { type: 'remote-command', version: 1, issuedAtSec: 1 }, privateKey), /set by the signer/);
  assert.deepEqual(Object.keys(SIGNED_DOWNLINKS).sort(), ['accounts', 'cards', 'command', 'config', 'topups']);
});

test('config: strict at every depth, defaults filled', () => {
  const c = parseCloudConfig({ mqtt: { url: 'mqtt://127.0.0.1:1883' }, postgres: { url: 'postgres://u@127.0.0.1/db' } });
  assert.equal(c.mqtt.group, 'ingest');
  assert.equal(c.ingest.maxBatchesPerTx, 64);
  assert.throws(() => parseCloudConfig({ mqtt: { url: 'mqtt://x', grup: 'a' }, postgres: { url: 'postgres://u@h/db' } }), /mqtt\.grup: unknown key/);
  assert.throws(() => parseCloudConfig({ mqtt: { url: 'mqtt://x' }, postgres: { url: 'postgres://u@h/db' }, ingest: { maxPendng: 1 } }), /ingest/);
});

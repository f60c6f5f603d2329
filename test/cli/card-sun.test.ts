// `laundry-gateway card sun`: in-process through runCardSun for the cases, and as the operator
// runs it (a process, its stdout, its exit code) for one good and one bad message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../../gateway/cli/args.js';
import { runCardSun } from '../../gateway/cli/card-sun.js';
import { runConfigSchema } from '../../gateway/cli/config.js';
import { checkSecureCardKeys } from '../../gateway/cli/doctor.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { encodeSunUri } from '../../protocols/secure-card/index.js';
import { AN12196, MASTER_KEY_HEX, META_KEY_HEX, SPEC_VECTORS, SYSTEM_ID, sunLine } from '../secure-card/vectors.js';
import { slow } from '../helpers/slowdown.js';

const MAIN = fileURLToPath(new URL('../../gateway/cli/main.ts', import.meta.url));
const FLAGS = ['--meta-key', META_KEY_HEX, '--master-key', MASTER_KEY_HEX, '--system-id', SYSTEM_ID];

/** runCardSun in this process; a usage error is exit 2, as main() makes it. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const saved = process.env.LAUNDRY_GATEWAY_CONFIG;
  if (env.LAUNDRY_GATEWAY_CONFIG !== undefined) process.env.LAUNDRY_GATEWAY_CONFIG = env.LAUNDRY_GATEWAY_CONFIG;
  try {
    const code = runCardSun(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n').trim(), err: err.join('\n').trim() };
  } catch (e) {
    if (e instanceof UsageError) return { code: 2, out: '', err: e.message };
    throw e;
  } finally {
    if (saved === undefined) delete process.env.LAUNDRY_GATEWAY_CONFIG;
    else process.env.LAUNDRY_GATEWAY_CONFIG = saved;
  }
}

function spawned(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'card', 'sun', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: slow(60_000) });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

test('card sun with key flags: the datasheet vectors, and each refusal with its exit code', () => {
  for (const v of SPEC_VECTORS) assert.deepEqual(cli([...FLAGS, sunLine(v)]), { code: 0, out: JSON.stringify({ uid: v.uid, counter: v.counter }), err: '' });
  const wrongMaster = cli(['--meta-key', META_KEY_HEX, '--master-key', '00'.repeat(16), '--system-id', SYSTEM_ID, sunLine(SPEC_VECTORS[0])]);
  assert.deepEqual([wrongMaster.code, wrongMaster.out], [1, 'bad_mac']);
  const wrongMeta = cli(['--meta-key', '00'.repeat(16), '--master-key', MASTER_KEY_HEX, '--system-id', SYSTEM_ID, sunLine(SPEC_VECTORS[0])]);
  assert.deepEqual([wrongMeta.code, wrongMeta.out], [1, 'unknown_card']);
  const malformed = cli([...FLAGS, 'https://c.example/t?picc_data=ABC']);
  assert.deepEqual([malformed.code, malformed.out], [1, 'bad_format']);
  // AN12196's card, under its zero meta key; its MAC is not diversified, so ours says bad_mac.
  const an = cli(['--meta-key', '00'.repeat(16), '--master-key', '00'.repeat(16), '--system-id', SYSTEM_ID, `https://x/?picc_data=${AN12196.piccData}&cmac=${AN12196.cmac}`]);
  assert.deepEqual([an.code, an.out], [1, 'bad_mac']);
  for (const bad of [[...FLAGS.slice(0, 2), sunLine(SPEC_VECTORS[0])], [...FLAGS], [...FLAGS, 'a', 'b'], ['--meta-key', 'XYZ', ...FLAGS.slice(2), 'x']]) {
    const r = cli(bad);
    assert.equal(r.code, 2, JSON.stringify(bad));
    assert.ok(!r.err.includes(MASTER_KEY_HEX));
  }
});

test('card sun without key flags uses the room key file named by the config, every live version', () => {
  const dir = mkdtempSync(join(tmpdir(), 'card-sun-'));
  try {
    const keyFile = join(dir, 'secure-card-keys.json');
    const v2 = { version: 2, metaKey: 'A0A1A2A3A4A5A6A7A8A9AAABACADAEAF', masterKey: 'B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF', systemId: SYSTEM_ID };
    writeFileSync(keyFile, JSON.stringify({ keys: [{ version: 1, metaKey: META_KEY_HEX, masterKey: MASTER_KEY_HEX, systemId: SYSTEM_ID }, v2] }), { mode: 0o600 });
    const config = join(dir, 'config.json');
    const base = demoGatewayConfig({ tcpPort: 1502, dbPath: join(dir, 'l.db'), qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    writeFileSync(config, JSON.stringify({ ...base, secureCards: { keyFile } }));
    assert.deepEqual(cli(['--config', config, sunLine(SPEC_VECTORS[2])]), { code: 0, out: JSON.stringify({ uid: SPEC_VECTORS[2].uid, counter: 1 }), err: '' });
    const reEncoded = encodeSunUri({ metaKey: Buffer.from(v2.metaKey, 'hex'), masterKey: Buffer.from(v2.masterKey, 'hex'), systemId: SYSTEM_ID, uid: '04112233445566', counter: 12 });
    assert.deepEqual(cli([reEncoded], { LAUNDRY_GATEWAY_CONFIG: config }).out, JSON.stringify({ uid: '04112233445566', counter: 12 }));
    // config check loads the key file too, and doctor shows its versions (never a key).
    const checked = spawnSync(process.execPath, ['--import', 'tsx', MAIN, 'config', 'check', '--config', config], { encoding: 'utf8', timeout: slow(60_000) });
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stdout, /secure-card key versions 2, 1/);
    const endpoints = { configPath: config, socketPath: join(dir, 's'), ledger: null, config: runConfigSchema.parse({ ...base, secureCards: { keyFile } }), configErrors: [] };
    assert.deepEqual(checkSecureCardKeys(endpoints), { check: 'secure-card keys', level: 'ok', detail: `${keyFile}: key versions 2, 1` });
    // A config without the block, and a key file others can read: refused with the reason.
    writeFileSync(config, JSON.stringify(base));
    const noBlock = cli(['--config', config, sunLine(SPEC_VECTORS[2])]);
    assert.equal(noBlock.code, 2);
    assert.match(noBlock.err, /no secureCards block/);
    writeFileSync(config, JSON.stringify({ ...base, secureCards: { keyFile } }));
    chmodSync(keyFile, 0o644);
    const open = cli(['--config', config, sunLine(SPEC_VECTORS[2])]);
    assert.equal(open.code, 2);
    assert.match(open.err, /chmod 600/);
    assert.ok(!open.err.includes(META_KEY_HEX));
    const doctorSays = checkSecureCardKeys(endpoints);
    assert.equal(doctorSays.level, 'fail');
    assert.match(doctorSays.detail, /chmod 600/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('card sun as a process: exit 0 with the JSON, exit 1 with the reason', () => {
  assert.deepEqual(spawned([...FLAGS, sunLine(SPEC_VECTORS[1])]), { code: 0, out: JSON.stringify({ uid: SPEC_VECTORS[1].uid, counter: 8 }), err: '' });
  const bad = spawned([...FLAGS, sunLine({ piccData: SPEC_VECTORS[1].piccData, cmac: SPEC_VECTORS[0].cmac })]);
  assert.deepEqual([bad.code, bad.out], [1, 'bad_mac']);
  const usage = spawned([...FLAGS]);
  assert.equal(usage.code, 2);
});

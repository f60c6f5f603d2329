// The key file and the secureCards config block: owner-only, strict, versioned, and no key in
// any error, JSON or inspect output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { gatewayConfigSchema, type GatewayConfigInput } from '../../gateway/config/schema.js';
import { parseConfigText } from '../../gateway/config/load.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { loadSecureCardKeys, parseSecureCardKeys } from '../../gateway/secure-cards/keys.js';
import { openSecureCards } from '../../gateway/secure-cards/index.js';
import { silentLogger } from '../../gateway/core/log.js';
import { encodeSunUri } from '../../protocols/secure-card/index.js';
import { openTestLedger } from '../storage/helpers.js';
import { META_KEY_HEX, MASTER_KEY_HEX, SPEC_KEYS, SYSTEM_ID } from './vectors.js';

const V1 = { version: 1, metaKey: META_KEY_HEX, masterKey: MASTER_KEY_HEX, systemId: SYSTEM_ID };
const V2 = { version: 2, metaKey: 'A0A1A2A3A4A5A6A7A8A9AAABACADAEAF', masterKey: 'B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF', systemId: SYSTEM_ID };

function withDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sc-keys-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a 0600 key file with two versions loads; the object prints only its versions', () => {
  withDir((dir) => {
    const f = join(dir, 'keys.json');
    writeFileSync(f, JSON.stringify({ keys: [V1, V2] }), { mode: 0o600 });
    const r = loadSecureCardKeys(f);
    assert.equal(r.ok, true);
    if (!r.ok) return;
    assert.deepEqual(r.keys.versions, [2, 1]);
    assert.equal(r.keys.sets[1]?.metaKey.length, 16);
    const shown = [JSON.stringify(r.keys), JSON.stringify({ keys: r.keys }), inspect(r.keys), inspect({ k: r.keys }, { depth: 5 }), String(r.keys)].join('\n');
    assert.ok(!shown.toUpperCase().includes(META_KEY_HEX.slice(0, 8)), shown);
    assert.ok(!shown.toUpperCase().includes(MASTER_KEY_HEX.slice(0, 8)), shown);
    assert.match(JSON.stringify(r.keys), /"versions":\[2,1\]/);
  });
});

test('a key file others may read or write is refused; a missing one says so', () => {
  withDir((dir) => {
    const f = join(dir, 'keys.json');
    writeFileSync(f, JSON.stringify({ keys: [V1] }));
    for (const mode of [0o644, 0o640, 0o604, 0o620]) {
      chmodSync(f, mode);
      const r = loadSecureCardKeys(f);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.errors[0] ?? '', /chmod 600/);
    }
    chmodSync(f, 0o400);
    assert.equal(loadSecureCardKeys(f).ok, true);
    const missing = loadSecureCardKeys(join(dir, 'nope.json'));
    assert.equal(missing.ok, false);
    if (!missing.ok) assert.match(missing.errors[0] ?? '', /ENOENT/);
  });
});

test('bad key files: every problem named by path, no key material quoted', () => {
  const cases: [unknown, RegExp][] = [
    [{ keys: [] }, /keys: at least one key version/],
    [{ keys: [V1, { ...V2, version: 1 }] }, /keys\[1\]\.version: version 1 is listed twice/],
    [{ keys: [{ ...V1, metaKey: META_KEY_HEX.slice(2) }] }, /keys\[0\]\.metaKey: a 16-byte AES key/],
    [{ keys: [{ ...V1, systemId: 'SHORT' }] }, /keys\[0\]\.systemId/],
    [{ keys: [{ ...V1, extra: 1 }] }, /keys\[0\]/],
    [{ keys: [V1], comment: 'x' }, /top level|comment/],
  ];
  for (const [doc, want] of cases) {
    const r = parseSecureCardKeys('keys.json', JSON.stringify(doc));
    assert.equal(r.ok, false, JSON.stringify(doc));
    if (r.ok) continue;
    assert.match(r.errors.join('\n'), want);
    assert.ok(!r.errors.join('\n').toUpperCase().includes(META_KEY_HEX.slice(4, 20)));
  }
  // JSON.parse's own message quotes the text near the error; ours does not.
  const broken = parseSecureCardKeys('keys.json', `{"keys":[{"metaKey":"${META_KEY_HEX}" "x"}]}`);
  assert.deepEqual(broken, { ok: false, errors: ['keys.json: not valid JSON'] });
});

test('config: the secureCards block is strict; a type S reader needs it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sc-cfg-'));
  try {
    const base = demoGatewayConfig({ tcpPort: 1502, dbPath: join(dir, 'l.db'), qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    const withReader = (extra: Partial<GatewayConfigInput>): string[] => {
      const c = { ...base, readers: [{ id: 'W1-secure', type: 'sun' as const, path: '/dev/serial/by-id/x', attachedTo: { machineId: 'W1' } }], ...extra };
      const r = parseConfigText('room.json', JSON.stringify(c), gatewayConfigSchema);
      return r.ok ? [] : r.errors;
    };
    assert.match(withReader({}).join('\n'), /readers\[0\]\.type: a type S reader needs the secureCards block/);
    assert.deepEqual(withReader({ secureCards: { keyFile: '/etc/laundry-gateway/secure-card-keys.json' } }), []);
    const ok = parseConfigText('room.json', JSON.stringify({ ...base, secureCards: { keyFile: '/k.json' } }), gatewayConfigSchema);
    assert.equal(ok.ok && ok.config.secureCards?.refusePlainCards, false);
    assert.match(withReader({ secureCards: { keyFile: 'keys.json' } }).join('\n'), /secureCards\.keyFile: an absolute path/);
    const unknown = parseConfigText('room.json', JSON.stringify({ ...base, secureCards: { keyFile: '/k.json', refusePlain: true } }), gatewayConfigSchema);
    assert.equal(unknown.ok, false);
    if (!unknown.ok) assert.match(unknown.errors.join('\n'), /secureCards/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the config file reaches the gate: refusePlainCards declines a listed plain card unknown_card; a secure tap still passes', () => {
  withDir((dir) => {
    const keyFile = join(dir, 'keys.json');
    writeFileSync(keyFile, JSON.stringify({ keys: [V1] }), { mode: 0o600 });
    const input: GatewayConfigInput = { ...demoGatewayConfig({ tcpPort: 1502, dbPath: join(dir, 'l.db'), qrPublicKey: 'A'.repeat(43) }), secureCards: { keyFile, refusePlainCards: true } };
    const cfg = gatewayConfigSchema.parse(input);
    const ledger = openTestLedger(join(dir, 'l.db'));
    try {
      ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: '04B7C2D3E4F501', accountId: 'b', status: 'active' }, { uid: '04A2B9C1D25E80', accountId: 'a', status: 'active', secure: true }] });
      const cards = openSecureCards(cfg.secureCards, { ledger, logger: silentLogger() });
      const plain = cards.gate.admitPlain({ readerId: 'r', machineId: 'W1', uid: '04B7C2D3E4F501' });
      assert.equal(!plain.admitted && plain.reason, 'unknown_card');
      const sun = cards.gate.admitSun({ readerId: 'r', machineId: 'W1', text: encodeSunUri({ ...SPEC_KEYS, uid: '04A2B9C1D25E80', counter: 1 }) });
      assert.equal(sun.admitted && sun.sunCounter, 1);
    } finally {
      ledger.close();
    }
  });
});

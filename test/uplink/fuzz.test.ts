// Hostile downlinks without a broker: arbitrary JSON values, and valid messages with one field
// mutated, go straight into the downlink handler over a real ledger. It must never throw,
// must report every refusal, and must leave the ledger untouched by anything it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../gateway/core/log.js';
import { Downlinks } from '../../gateway/uplink/downlinks.js';
import { MAX_BALANCE_CENTS, MAX_TOP_UP_CENTS } from '../../protocols/mqtt/payloads.js';
import { publicKeyFromBase64url, signText } from '../../protocols/mqtt/signing.js';
import { signDownlink } from '../../protocols/mqtt/sign-downlink.js';
import { cloudKeys, tempDir, testLedger, ROOM } from './helpers.js';

const NAMES = ['cards', 'accounts', 'topups', 'config', 'commands'] as const;

test('arbitrary JSON on every downlink topic: never throws, always reported, ledger unchanged', async () => {
  const t = tempDir(true);
  const ledger = testLedger(t.file('ledger.db'));
  const keys = cloudKeys();
  const rejects: string[] = [];
  let ran = 0;
  const d = new Downlinks({
    roomId: ROOM,
    gatewayId: ROOM,
    ledger,
    logger: silentLogger(),
    configKey: publicKeyFromBase64url(keys.publicB64),
    commands: { maxTtlSec: 900, skewSec: 30 },
    nowSec: () => Math.floor(Date.now() / 1000),
    nowMs: () => Date.now(),
    onRoomConfig: () => void ran++,
    commandTarget: { command: () => (ran++, Promise.resolve({ status: 'unsupported' })) },
    reject: (r) => void rejects.push(r.reason),
    commandResult: () => undefined,
  });
  const before = JSON.stringify({ s: ledger.outbox.stats(), c: ledger.cardListVersion() });
  try {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...NAMES), fc.jsonValue(), async (name, value) => {
        const n = rejects.length;
        await d.handle(name, `laundry/v1/${ROOM}/down/${name}`, value);
        return rejects.length === n + 1;
      }),
      { numRuns: 400 },
    );
    // Signed, valid JSON text, but the signed content is not a config/command: still refused.
    const text = JSON.stringify({ type: 'room-config', roomId: ROOM, version: 'one' });
    await d.handle('config', 'x', { v: 1, config: text, sig: signText(keys.privateKey, text) });
    const cmdText = JSON.stringify({ type: 'room-config', roomId: ROOM, version: 1, issuedAtSec: 1 });
    await d.handle('commands', 'x', { v: 1, command: cmdText, sig: signText(keys.privateKey, cmdText) });
    assert.deepEqual(rejects.slice(-2), ['schema', 'schema'], 'a signed config never passes as a command');
    assert.equal(ran, 0);
    assert.equal(JSON.stringify({ s: ledger.outbox.stats(), c: ledger.cardListVersion() }), before);
  } finally {
    ledger.close();
    t.cleanup();
  }
});

test('money beyond the contract bounds is refused as schema, before anything is applied (balances stay exact)', async () => {
  // Found by the torture fuzz: a snapshot near 2^53 cents plus top-ups made balances rounded floats.
  const t = tempDir(true);
  const ledger = testLedger(t.file('ledger.db'));
  const rejects: string[] = [];
  const keys = cloudKeys();
  const signed = (name: 'accounts' | 'topups', body: object): unknown => JSON.parse(signDownlink(keys.privateKey, name, ROOM, body).envelope);
  const d = new Downlinks({
    roomId: ROOM,
    gatewayId: ROOM,
    ledger,
    logger: silentLogger(),
    configKey: publicKeyFromBase64url(keys.publicB64),
    commands: { maxTtlSec: 900, skewSec: 30 },
    nowSec: () => Math.floor(Date.now() / 1000),
    nowMs: () => Date.now(),
    reject: (r) => void rejects.push(r.reason),
    commandResult: () => undefined,
  });
  try {
    await d.handle('accounts', 'x', signed('accounts', { snapshots: [{ accountId: 'a1', version: 1, balanceCents: 100, points: 0, tier: 't', coveredSeq: 0 }] }));
    const before = ledger.balance('a1');
    await d.handle('accounts', 'x', signed('accounts', { snapshots: [{ accountId: 'a1', version: 2, balanceCents: Number.MAX_SAFE_INTEGER, points: 0, tier: 't', coveredSeq: 0 }] }));
    await d.handle('accounts', 'x', signed('accounts', { snapshots: [{ accountId: 'a1', version: 3, balanceCents: 0, points: -(2 ** 53 - 1), tier: 't', coveredSeq: 0 }] }));
    await d.handle('topups', 'x', signed('topups', { topUps: [{ cloudId: 'c1', accountId: 'a1', amountCents: 500, accountVersion: 2 }, { cloudId: 'c2', accountId: 'a1', amountCents: MAX_TOP_UP_CENTS + 1, accountVersion: 3 }] }));
    assert.deepEqual(rejects, ['schema', 'schema', 'schema']);
    assert.deepEqual(ledger.balance('a1'), before, 'nothing of a refused message is applied, not even its valid first top-up');
    await d.handle('topups', 'x', signed('topups', { topUps: [{ cloudId: 'c3', accountId: 'a1', amountCents: MAX_TOP_UP_CENTS, accountVersion: 2 }] }));
    await d.handle('accounts', 'x', signed('accounts', { snapshots: [{ accountId: 'a2', version: 1, balanceCents: -MAX_BALANCE_CENTS, points: MAX_BALANCE_CENTS, tier: 't', coveredSeq: 0 }] }));
    assert.equal(rejects.length, 3, 'the bounds themselves are accepted');
    assert.equal(ledger.balance('a1')?.balanceCents, 100 + MAX_TOP_UP_CENTS);
  } finally {
    ledger.close();
    t.cleanup();
  }
});

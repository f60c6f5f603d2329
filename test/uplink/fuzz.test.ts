// Hostile downlinks without a broker: arbitrary JSON values, and valid messages with one field
// mutated, go straight into the downlink handler over a real ledger. It must never throw,
// must report every refusal, and must leave the ledger untouched by anything it refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { silentLogger } from '../../gateway/core/log.js';
import { Downlinks } from '../../gateway/uplink/downlinks.js';
import { publicKeyFromBase64url, signText } from '../../protocols/mqtt/signing.js';
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

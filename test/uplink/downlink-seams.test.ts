// Where downlinks meet each other and a failing ledger, over a real Mosquitto:
//   - a command that waits for its machine (a vend there, up to the engine's claim timeout)
//     holds up neither another machine's command nor a top-up behind it, and the connection
//     stays up (before, every later message waited for it: keepalive timeouts, reconnects);
//   - a top-up the ledger could not write (a full or failing SD card) is not acknowledged, the
//     broker delivers it again, and it is applied exactly once when the ledger writes again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import type { RemoteCommandTarget, RemoteCommandResult } from '../../gateway/uplink/downlinks.js';
import { openLedger, WriteFaults } from '../../storage/index.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { ROOM, cloudKeys, makeConsumer, makeUplink, tempDir, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

test('a command waiting for its machine holds up neither another machine nor a top-up behind it', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = openLedger({ path: t.file('l.db'), roomSecret: Buffer.alloc(32, 7), gatewayId: ROOM, bootId: randomUUID(), clock: systemClock, logger: silentLogger() });
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  let releaseW1: () => void = () => undefined;
  const w1Waits = new Promise<void>((r) => (releaseW1 = r));
  const ran: string[] = [];
  const target: RemoteCommandTarget = {
    command: async (cmd): Promise<RemoteCommandResult> => {
      if (cmd.machineId === 'W1') await w1Waits;
      ran.push(cmd.id);
      return { status: 'accepted', reason: null, detail: 'none: test' };
    },
  };
  const up = makeUplink(ledger, broker.url, { commandTarget: target }, { configPublicKey: keys.publicB64, keepaliveSec: 5 });
  try {
    await up.start();
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    const now = Math.floor(Date.now() / 1000);
    await cloud.publishCommand(ROOM, { id: 'w1-start', machineId: 'W1', kind: 'pause', issuedAtSec: now, expiresAtSec: now + 60 });
    await cloud.publishCommand(ROOM, { id: 'w2-start', machineId: 'W2', kind: 'pause', issuedAtSec: now, expiresAtSec: now + 60 });
    await cloud.publishTopUps(ROOM, [{ cloudId: 'behind', accountId: 'a1', amountCents: 500, accountVersion: 1 }]);
    await waitFor(() => ran.includes('w2-start'), "W2's command while W1's waits");
    await waitFor(() => ledger.balance('a1')?.balanceCents === 500, 'the top-up behind them');
    const connects = up.stats().connects;
    // Longer than the keepalive: a message left unacknowledged would have cost the connection.
    await new Promise((r) => setTimeout(r, 8000));
    assert.equal(up.stats().connects, connects, 'no reconnect while a command waits');
    assert.deepEqual(ran, ['w2-start']);
    releaseW1();
    await waitFor(() => ran.includes('w1-start'), "W1's command once its machine is free");
  } finally {
    releaseW1();
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a top-up the ledger could not write is delivered again and applied once', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const faults = new WriteFaults();
  const ledger = openLedger({ path: t.file('l.db'), roomSecret: Buffer.alloc(32, 7), gatewayId: ROOM, bootId: randomUUID(), clock: systemClock, logger: silentLogger(), writeFaults: faults });
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  const up = makeUplink(ledger, broker.url, {}, { configPublicKey: keys.publicB64 });
  try {
    await up.start();
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    const connects = up.stats().connects;
    faults.fail({ code: 'SQLITE_FULL', count: 2, op: 'applyTopUps' });
    await cloud.publishTopUps(ROOM, [{ cloudId: 'sd-full', accountId: 'a1', amountCents: 700, accountVersion: 1 }]);
    await waitFor(() => ledger.balance('a1')?.balanceCents === 700, 'the top-up, once the ledger writes again', 20_000);
    assert.equal(faults.injected, 2, 'it failed twice before it was applied');
    assert.ok(up.stats().connects > connects, 'redelivered on a new connection');
    assert.equal(cloud.received.reject.filter((r) => r.payload.topic.endsWith('/topups')).length, 0, 'not refused: delivered again');
    await cloud.publishTopUps(ROOM, [{ cloudId: 'sd-full', accountId: 'a1', amountCents: 700, accountVersion: 1 }]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(ledger.balance('a1')?.balanceCents, 700, 'applied once');
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

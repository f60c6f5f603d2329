// A third device model through the real engine: the CM-1 credit meter (gateway/profiles/meter*.ts),
// registered beside the LW-485 and the RIO-8, on its own bus over TCP, with the real Daemon and a
// real ledger file. Its receipt alone decides: a credit the counter shows is captured, one it does
// not show is refunded, and a lost reply is settled by reading the counter back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { silentLogger } from '../../gateway/core/log.js';
import { listenTcp, type TcpEndpoint } from '../../simulator/tcp-server.js';
import { CARDS, auditKinds, seedCards, startDaemon, tempDir, testConfig, waitStatus } from './harness.js';
import { MeterDevice } from './meter-device.js';

const meter = new MeterDevice(5);
let endpoint: TcpEndpoint;
let daemon: Daemon;
const tmp = tempDir('meter-');

before(async () => {
  endpoint = await listenTcp(meter, { host: '127.0.0.1', port: 0, framing: 'rtu' }, silentLogger());
  const cfg = testConfig({ port: endpoint.port, dbPath: tmp.file('ledger.db') });
  cfg.buses = [
    {
      id: 'meters',
      transport: { type: 'tcp', host: '127.0.0.1', port: endpoint.port, framing: 'rtu' },
      pollIntervalMs: 100,
      // Generous: a loaded test machine must not take the meter offline between two vends.
      replyTimeoutMs: 1000,
      units: [{ unit: 5, profile: 'meter', machineId: 'K1', kind: 'washer', cycleMinutes: 30 }],
    },
  ];
  daemon = await startDaemon(cfg);
  seedCards(daemon.ledger);
  await waitStatus(daemon, 'K1', ['idle']);
});

after(async () => {
  await daemon.stop();
  await endpoint.close();
  tmp.cleanup();
});

const swipe = () => daemon.engine.cardSwipe({ readerId: 'r-K1', uid: CARDS.alice.uid, machineId: 'K1' });

async function idleAgain(): Promise<void> {
  meter.status = 0;
  await waitStatus(daemon, 'K1', ['idle']);
}

test('meter: the counter moved by one, so the vend is captured (across the u16 wrap)', async () => {
  const o = await swipe();
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(o.amountCents, 250);
  assert.deepEqual(daemon.ledger.getVend(o.vendId)?.creditEvidence, { profile: 'meter', unit: 5, counterBefore: 65534 });
  assert.equal(meter.counter, 65535);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'capture']);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, 2000 - 250);
  await idleAgain();
});

test('meter: a credit acknowledged but not counted is refunded, not guessed', async () => {
  meter.jamNext = true;
  const before = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents;
  const o = await swipe();
  assert.equal(o.result, 'refunded', JSON.stringify(o));
  if (o.result !== 'refunded') return;
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'refunded');
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, before);
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'refund']);
  assert.equal(daemon.engine.blockedMachines().length, 0);
});

test('meter: a lost reply is settled by the counter read back: captured', async () => {
  meter.dropNextReply = true;
  const counterBefore = meter.counter;
  const o = await swipe();
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(meter.counter, (counterBefore + 1) % 65536);
  assert.equal(meter.credits.length, 3, 'one write per vend: a lost reply is never written again');
  assert.equal(daemon.ledger.getVend(o.vendId)?.state, 'captured');
  await idleAgain();
});

// The risk state outlives a restart: a card locked out stays locked out when the daemon comes
// back on the same ledger file; the stored state names no card UID; a stored value that does
// not parse is logged and ignored. Real daemon, real file, simulated room over TCP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { RISK_STATE_KEY } from '../../gateway/engine/risk-store.js';
import { riskStateSchema } from '../../gateway/vend/risk.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon | null = null;
const tmp = tempDir();
const cfg = (port: number) => {
  const c = testConfig({ port, dbPath: tmp.file('ledger.db') });
  return { ...c, risk: { ...c.risk, failures: { perCard: 3, lockoutBaseMs: 3_600_000 } } };
};

async function restart(machineId = 'W1'): Promise<Daemon> {
  if (daemon) await daemon.stop();
  daemon = await startDaemon(cfg(sim.port));
  await waitStatus(daemon, machineId, ['idle']);
  return daemon;
}

before(async () => {
  sim = await startRoom();
});

after(async () => {
  if (daemon) await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const swipe = (d: Daemon, who: keyof typeof CARDS) => d.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS[who].uid, machineId: 'W1' });

test('a locked-out card is still locked out after a restart on the same file', async () => {
  let d = await restart();
  seedCards(d.ledger);
  for (let i = 0; i < 3; i++) assert.deepEqual(await swipe(d, 'stranger'), { result: 'declined', reason: 'unknown_card', machineId: 'W1' });
  assert.deepEqual(await swipe(d, 'stranger'), { result: 'declined', reason: 'locked_out', machineId: 'W1' });

  const stored = d.ledger.getSetting(RISK_STATE_KEY);
  assert.ok(stored !== undefined, 'the state was persisted');
  assert.ok(!stored.toUpperCase().includes(CARDS.stranger.uid), 'no card UID in the stored state');
  const state = riskStateSchema.parse(JSON.parse(stored));
  const card = state.cards[d.ledger.cardKey(CARDS.stranger.uid)];
  assert.ok(card && card.lockedUntil > Date.now(), JSON.stringify(state));

  d = await restart();
  assert.deepEqual(await swipe(d, 'stranger'), { result: 'declined', reason: 'locked_out', machineId: 'W1' });
  // Another card at the same reader is not affected.
  assert.equal((await swipe(d, 'alice')).result, 'captured');
});

test('a stored risk state that does not parse is ignored: the daemon starts with an empty one', async () => {
  // W1 holds the credit of the vend above: this test uses W2.
  let d = await restart('W2');
  d.ledger.setSetting(RISK_STATE_KEY, '{"cards": 42}');
  d = await restart('W2');
  const o = await d.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.stranger.uid, machineId: 'W2' });
  assert.deepEqual(o, { result: 'declined', reason: 'unknown_card', machineId: 'W2' }, 'the lockout was forgotten with the bad value');
  const now = d.ledger.getSetting(RISK_STATE_KEY);
  assert.ok(now !== undefined && riskStateSchema.safeParse(JSON.parse(now)).success, 'the next change wrote a good state');
});

test('a captured vend leaves its risk state stored with the capture', async () => {
  const d = await restart('W2');
  seedCards(d.ledger);
  const o = await d.engine.cardSwipe({ readerId: 'r-W2', uid: CARDS.alice.uid, machineId: 'W2' });
  assert.equal(o.result, 'captured');
  const stored = d.ledger.getSetting(RISK_STATE_KEY);
  assert.ok(stored !== undefined);
  const card = riskStateSchema.parse(JSON.parse(stored)).cards[d.ledger.cardKey(CARDS.alice.uid)];
  assert.equal(card?.vends.length, 1, 'the vend counts once, in the stored state');
});

test("a captured vend whose risk state could not go along with the capture: the capture stands, the state is stored after it, the vend counted once", async () => {
  if (daemon) await daemon.stop();
  const faults = new WriteFaults();
  const d = await startDaemon(cfg(sim.port), undefined, { ledgerWriteFaults: faults });
  daemon = d;
  await waitStatus(d, 'D1', ['idle']);
  seedCards(d.ledger);
  const key = d.ledger.cardKey(CARDS.bob.uid);
  const before = d.ledger.getSetting(RISK_STATE_KEY);
  const had = before === undefined ? 0 : (riskStateSchema.parse(JSON.parse(before)).cards[key]?.vends.length ?? 0);
  faults.fail({ code: 'SQLITE_IOERR', op: 'capture', sql: /INSERT INTO settings/ });
  const o = await d.engine.cardSwipe({ readerId: 'r-D1', uid: CARDS.bob.uid, machineId: 'D1' });
  assert.equal(o.result, 'captured');
  assert.equal(faults.injected, 1, 'the setting beside the capture failed');
  const stored = d.ledger.getSetting(RISK_STATE_KEY);
  assert.ok(stored !== undefined);
  assert.equal(riskStateSchema.parse(JSON.parse(stored)).cards[key]?.vends.length, had + 1, 'stored on its own, the vend counted once');
});

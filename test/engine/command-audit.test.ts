// An app command that is money (add-time: its own priced vend) is audited in the transaction of
// its money, not beside it (issue 12): a failed write of the audit alone cannot leave money moved
// with no command record, and a capture not stored leaves neither. Real daemon, simulator and
// ledger file, writes failed at the storage boundary.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import type { RemoteCommand } from '../../protocols/mqtt/payloads.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, seedCards, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir();
let n = 0;

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(testConfig({ port: sim.port, dbPath: tmp.file('ledger.db') }), undefined, { ledgerWriteFaults: faults });
  seedCards(daemon.ledger, { alice: 5000 });
  for (const id of ['W1', 'W2', 'D1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

const remote = (kind: RemoteCommand['kind'], more: Partial<RemoteCommand> = {}) => {
  const now = Math.floor(Date.now() / 1000);
  const id = `at-${++n}`;
  return { id, result: daemon.engine.commands.remote({ type: 'remote-command', roomId: 'test-room', id, machineId: 'D1', kind, issuedAtSec: now - 1, expiresAtSec: now + 60, ...more }) };
};
const addTime = () => remote('addTime', { args: { minutes: 10, amountCents: 800 } });
const commandRecords = (commandId: string) => daemon.ledger.readAudit(1, 100_000).filter((r) => r.kind === 'command' && (JSON.parse(r.detail ?? '{}') as { commandId?: string }).commandId === commandId);

test('add-time: its command record is written with its capture, in one transaction, whatever else fails', async () => {
  const o = await daemon.engine.cardSwipe({ readerId: 'r-D1', uid: CARDS.alice.uid, machineId: 'D1' });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  assert.equal((await remote('start').result).status, 'accepted');
  await waitStatus(daemon, 'D1', ['running']);

  // A write aimed at a separate command record fails: there is none, the record is the capture's.
  faults.fail({ code: 'SQLITE_IOERR', op: 'recordCommand' });
  const a = addTime();
  assert.equal((await a.result).status, 'accepted');
  const recs = commandRecords(a.id);
  assert.equal(recs.length, 1, 'the add-time is audited');
  const capture = daemon.ledger.readAudit(1, 100_000).find((r) => r.kind === 'capture' && r.vendId === recs[0]?.vendId);
  assert.ok(capture && recs[0] && recs[0].seq === capture.seq + 1, 'right after its capture, in its transaction');
  faults.clear();
  await daemon.engine.retryTick();

  // The capture not stored: no command record either; the retry stores both together.
  faults.fail({ code: 'SQLITE_FULL', op: 'capture' });
  const b = addTime();
  assert.equal((await b.result).status, 'unknown');
  assert.equal(commandRecords(b.id).filter((r) => r.result === 'accepted').length, 0, 'not audited as done before its money is stored');
  await daemon.engine.retryTick();
  const done = commandRecords(b.id).filter((r) => r.result === 'accepted');
  assert.equal(done.length, 1);
  assert.equal(daemon.ledger.getVend(done[0]?.vendId ?? '')?.state, 'captured');
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
  assert.equal(daemon.ledger.verifyAudit().ok, true);
});

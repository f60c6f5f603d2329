// QR vends through Daemon.scan: a token minted with a key the room trusts buys a cycle once. The
// single use holds across a restart of the daemon on the same ledger file; a token for another
// room is refused before anything is held.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { auditKinds, mintFor, qrKey, startDaemon, startRoom, tempDir, testConfig, waitStatus, type TestRoom } from './harness.js';

let sim: TestRoom;
let daemon: Daemon;
const tmp = tempDir();
const key = qrKey();
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), qrPublicKey: key.publicKeyB64 });

before(async () => {
  sim = await startRoom();
  daemon = await startDaemon(config());
  await waitStatus(daemon, 'W1', ['idle']);
  await waitStatus(daemon, 'C3', ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

test('a QR token is captured once; a replay, also after a restart, is declined as replayed; another room is wrong_room', async () => {
  const text = mintFor(key, { machineId: 'W1', amountCents: 400, program: 2 });
  const o = await daemon.scan({ readerId: 'kiosk', text, machineId: null });
  assert.equal(o.result, 'captured', JSON.stringify(o));
  if (o.result !== 'captured') return;
  assert.equal(o.amountCents, 350);
  const v = daemon.ledger.getVend(o.vendId);
  assert.equal(v?.method, 'qr');
  assert.equal(v?.funding, 'token');
  assert.equal(v?.tokenAmountCents, 400);
  assert.ok(v?.tokenId !== null && v?.tokenId !== undefined && daemon.ledger.isTokenUsed(v.tokenId));
  assert.deepEqual(auditKinds(daemon.ledger, o.vendId), ['hold', 'credit_sent', 'capture']);
  assert.equal(sim.room.control.lw485(1).creditCents, 350);

  assert.deepEqual(await daemon.scan({ readerId: 'kiosk', text, machineId: null }), { result: 'declined', reason: 'replayed', machineId: null });

  // The gateway restarts on the same file: the used token id survived it.
  await daemon.stop();
  daemon = await startDaemon(config());
  await waitStatus(daemon, 'C3', ['idle']);
  assert.deepEqual(await daemon.scan({ readerId: 'kiosk', text, machineId: null }), { result: 'declined', reason: 'replayed', machineId: null });
  // Same token at a machine's own scanner: still the one use it had.
  assert.equal((await daemon.scan({ readerId: 'qr-W1', text, machineId: 'W1' })).result, 'declined');

  const elsewhere = mintFor(key, { roomId: 'other-room', machineId: 'C3', amountCents: 500 });
  const head = daemon.ledger.auditHead().seq;
  assert.deepEqual(await daemon.scan({ readerId: 'kiosk', text: elsewhere, machineId: null }), { result: 'declined', reason: 'wrong_room', machineId: null });
  assert.ok(daemon.ledger.readAudit(head + 1, 10).some((r) => r.kind === 'decline' && r.reason === 'wrong_room'));

  // A token that pays less than the price is declined after verification, before any hold.
  const cheap = mintFor(key, { machineId: 'C3', amountCents: 100 });
  assert.deepEqual(await daemon.scan({ readerId: 'kiosk', text: cheap, machineId: null }), { result: 'declined', reason: 'over_amount', machineId: 'C3' });
  assert.equal(daemon.ledger.unfinishedVends().length, 0);
  assert.equal(daemon.ledger.recentVends(100).length, 1, 'only the paid vend was ever held');
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});

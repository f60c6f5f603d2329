// Seams of the start-up reconcile's result window with the process itself: the gateway as systemd
// runs it (`laundry-gateway run`, a child process on the ledger file), killed with SIGKILL while
// the restarted reconcile waits out the LW-485's 2 s window for a credit a crash left, started
// again and stopped with SIGTERM inside the same wait, then started once more. The machine never
// got the credit, so the customer gets it back: exactly once, whatever the signals did.
import { writeFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Daemon } from '../../gateway/daemon.js';
import { slow } from '../helpers/slowdown.js';
import { killLeftovers, runGateway, readLedger } from './run-gateway.js';
import { CARDS, auditKinds, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

const WAITING = /inside the result window/;

let sim: TestRoom;
const tmp = tempDir('seams-reconcile-crash-');
const dbPath = tmp.file('ledger.db');
const configPath = tmp.file('config.json');

before(async () => {
  sim = await startRoom();
});

after(async () => {
  killLeftovers();
  await sim.close();
  tmp.cleanup();
});

test('SIGKILL inside the start-up wait, then SIGTERM inside the next one, then a restart: the credit the machine never got is refunded exactly once', async () => {
  // The crash: a credit's evidence stored, the process gone before its frame left.
  const daemon: Daemon = await startDaemon(testConfig({ port: sim.port, dbPath }));
  seedCards(daemon.ledger, { alice: 10_000 });
  await waitStatus(daemon, 'W1', ['idle']);
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const h = daemon.ledger.hold({ method: 'card', funding: 'account', machineId: 'W1', program: 1, amountCents: 250, accountId: CARDS.alice.accountId, cardUid: CARDS.alice.uid, ruleSetVersion: 't', ruleId: 't' });
  assert.ok(h.ok);
  const vendId = h.ok ? h.vendId : '';
  await assert.rejects(
    daemon.machines.commander('W1').credit({
      program: 1,
      amountCents: 250,
      beforeSend: (ev) => {
        assert.ok(daemon.ledger.markCreditSent(vendId, ev).ok);
        throw new Error('staged: the process died before the frame left');
      },
    }),
  );
  await daemon.stop();
  const seq0 = sim.room.control.lw485(1).lastSeq;
  writeFileSync(configPath, JSON.stringify({ ...testConfig({ port: sim.port, dbPath }), control: { socketPath: tmp.file('control.sock') } }));

  // 1. SIGKILL while the reconcile waits: nothing settled, nothing half-written.
  const first = runGateway(configPath);
  await waitFor(() => WAITING.test(first.log()), `the first run to wait out the window:\n${first.log().slice(-2000)}`, slow(60_000));
  first.child.kill('SIGKILL');
  assert.equal((await first.exited).signal, 'SIGKILL');
  assert.equal(readLedger(dbPath, (l) => l.getVend(vendId)?.state), 'credit_sent', 'killed inside the window: neither refunded nor captured');

  // 2. SIGTERM inside the next run's wait: start-up finishes the settle, then the daemon stops cleanly.
  const second = runGateway(configPath);
  await waitFor(() => WAITING.test(second.log()), `the second run to wait out the window:\n${second.log().slice(-2000)}`, slow(60_000));
  second.child.kill('SIGTERM');
  const exit = await second.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, second.log().slice(-3000));
  assert.match(second.log(), /unfinished vend settled/);
  assert.equal(readLedger(dbPath, (l) => l.getVend(vendId)?.state), 'refunded', 'settled before the clean stop');

  // 3. Once more: nothing left to settle, nothing settled twice.
  const third = runGateway(configPath);
  await waitFor(() => /"msg":"gateway started"/.test(third.log()), `the third run to start:\n${third.log().slice(-2000)}`, slow(60_000));
  assert.doesNotMatch(third.log(), WAITING);
  third.child.kill('SIGTERM');
  assert.deepEqual(await third.exited, { code: 0, signal: null });

  readLedger(dbPath, (l) => {
    assert.equal(l.getVend(vendId)?.state, 'refunded');
    assert.deepEqual(auditKinds(l, vendId), ['hold', 'credit_sent', 'refund'], 'refunded exactly once');
    assert.equal(l.balance(CARDS.alice.accountId)?.balanceCents, balance0, 'all of it back, nothing more');
    assert.equal(l.outbox.nextBatch({ maxCount: 100_000, maxBytes: 100_000_000 }).records.filter((r) => r.type === 'vend.refund' && (r.payload as { vendId?: string }).vendId === vendId).length, 1, 'one refund upstream');
    assert.equal(l.verifyAudit().ok, true);
    assert.deepEqual(l.selfCheck().problems, []);
  });
  assert.equal(sim.room.control.lw485(1).lastSeq, seq0, 'nothing was ever sent to W1');
});

// Seams of the start-up reconcile's result window (gateway/engine/reconcile-verdict.ts): a crash
// left three credits unsettled, and while the restarted engine waits out the LW-485's 2 s window
// before it believes "not executed", a card, the app's start, pause, cancel and add-time and a QR token come for the waiting
// machine and a card for another machine. Real daemon, simulator and ledger file; the crash is a
// daemon stopped between the credit's frame and its outcome (its memory gone), as in
// test/engine/late-result.test.ts; a refund's write fails once at the storage boundary.
//
// What a customer and an operator expect: nothing is admitted on top of the unsettled vend (each
// refused with a reason, audited); the credit the machine shows executed during the wait is
// captured, the ones it never got are refunded exactly once, the one whose refund was not stored
// is not reported refunded and is refunded once on the next retry; the wait is one window for the
// whole start-up, not one per machine; another machine's swipe is decided meanwhile.
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon } from '../../gateway/daemon.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { createLogger, type Logger } from '../../gateway/core/log.js';
import { LW485_RESULT_WITHIN_MS } from '../../gateway/profiles/lw485-receipt.js';
import { WriteFaults } from '../../storage/index.js';
import { CARDS, auditKinds, mintFor, qrKey, seedCards, startDaemon, startRoom, tempDir, testConfig, waitFor, waitStatus, type TestRoom } from '../engine/harness.js';

/** The controller shows a command's result this late (its sheet says 200 ms; the window is 2 s). */
const RESULT_DELAY_MS = 1700;
/** A vend's own read-backs must outlast that delay (the swipe at the other machine meets it). */
const ENGINE = { maxReadbacks: 30 };

let sim: TestRoom;
let daemon: Daemon;
const faults = new WriteFaults();
const tmp = tempDir('seams-reconcile-');
const key = qrKey();
const config = (): ReturnType<typeof testConfig> => testConfig({ port: sim.port, dbPath: tmp.file('ledger.db'), qrPublicKey: key.publicKeyB64 });

before(async () => {
  sim = await startRoom({ commandResultDelayMs: RESULT_DELAY_MS });
  daemon = await startDaemon(config(), undefined, { options: { engine: ENGINE } });
  seedCards(daemon.ledger, { alice: 10_000, bob: 5_000 });
  for (const id of ['W1', 'W2', 'D1', 'C1']) await waitStatus(daemon, id, ['idle']);
});

after(async () => {
  await daemon.stop();
  await sim.close();
  tmp.cleanup();
});

function hold(machineId: string, amountCents: number): string {
  const h = daemon.ledger.hold({ method: 'card', funding: 'account', machineId, program: 1, amountCents, accountId: CARDS.alice.accountId, cardUid: CARDS.alice.uid, ruleSetVersion: 't', ruleId: 't' });
  assert.ok(h.ok);
  return h.ok ? h.vendId : '';
}

/** A credit whose evidence is stored and whose process dies before the frame leaves: the machine never gets it. */
async function creditNeverSent(machineId: string, amountCents: number): Promise<string> {
  const vendId = hold(machineId, amountCents);
  await assert.rejects(
    daemon.machines.commander(machineId).credit({
      program: 1,
      amountCents,
      beforeSend: (ev) => {
        assert.ok(daemon.ledger.markCreditSent(vendId, ev).ok);
        throw new Error('staged: the process died before the frame left');
      },
    }),
  );
  return vendId;
}

/** The daemon's log lines (pino JSON) kept in memory: the result window's waits are read from them. */
function keptLog(): { logger: Logger; lines: Array<{ msg?: string; machineId?: string; waitMs?: number }> } {
  const lines: Array<{ msg?: string; machineId?: string; waitMs?: number }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as { msg?: string });
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination: sink }), lines };
}

const WAIT_MSG = /inside the result window/;

const countOf = (kinds: string[], kind: string): number => kinds.filter((k) => k === kind).length;

test('during the start-up wait: nothing admitted on the waiting machine, another machine decided; executed → captured, never sent → refunded once, refund not stored → refunded once on retry', async () => {
  const balance0 = daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents ?? NaN;
  const bob0 = daemon.ledger.balance(CARDS.bob.accountId)?.balanceCents ?? NaN;
  const neverW2 = await creditNeverSent('W2', 250);
  const neverD1 = await creditNeverSent('D1', 300);
  // W1: the frame reaches the controller, which shows the result only after RESULT_DELAY_MS.
  const lateW1 = hold('W1', 250);
  const w1Seq = sim.room.control.lw485(1).lastSeq;
  const sentAt = performance.now();
  const o = await daemon.machines.commander('W1').credit({ program: 1, amountCents: 250, beforeSend: (ev) => assert.ok(daemon.ledger.markCreditSent(lateW1, ev).ok) });
  assert.equal(o.status, 'unknown', 'the result is not shown within the command\'s own deadline');
  await daemon.stop();

  // The restart. The first refund the reconcile writes fails (a dying SD card).
  faults.fail({ code: 'SQLITE_IOERR', op: 'refund' });
  const log = keptLog();
  const windowWaits = (): number[] => log.lines.filter((l) => WAIT_MSG.test(l.msg ?? '')).map((l) => l.waitMs ?? NaN);
  daemon = new Daemon(gatewayConfigSchema.parse(config()), { logger: log.logger, clock: systemClock, ledgerWriteFaults: faults, options: { engine: ENGINE } });
  const t0 = performance.now();
  let startedAt = 0;
  const starting = daemon.start().then(() => {
    startedAt = performance.now();
  });
  await waitFor(() => windowWaits().length > 0 || startedAt > 0, 'the reconcile to wait out the result window');
  const inWait = startedAt === 0;
  const firstReadIn = performance.now() - sentAt;

  // While it waits: the waiting machine is refused to every payer and command; another machine vends.
  const swipeW1 = daemon.engine.cardSwipe({ readerId: 'r-W1', uid: CARDS.bob.uid, machineId: 'W1' });
  const remote = (kind: 'start' | 'pause' | 'cancel' | 'addTime') =>
    daemon.engine.commands.remote({ type: 'remote-command', roomId: 'test-room', id: `seam-${kind}-w1`, machineId: 'W1', kind, issuedAtSec: 1, expiresAtSec: 2, ...(kind === 'addTime' ? { args: { minutes: 10, amountCents: 500 } } : {}) });
  const commandsW1 = Promise.all([remote('start'), remote('pause'), remote('cancel'), remote('addTime')]);
  const qrW1 = daemon.scan({ readerId: 'qr-W1', text: mintFor(key, { machineId: 'W1', amountCents: 400, program: 1 }), machineId: 'W1' });
  const otherAt = performance.now();
  const swipeC1 = daemon.engine.cardSwipe({ readerId: 'r-C1', uid: CARDS.bob.uid, machineId: 'C1' });
  const c1 = await swipeC1;
  const otherDecidedMs = performance.now() - otherAt;
  const otherDecidedInWait = startedAt === 0;
  assert.deepEqual(await swipeW1, { result: 'declined', reason: 'vend_unsettled', machineId: 'W1' });
  for (const r of await commandsW1) assert.deepEqual([r.status, r.reason], ['rejected', 'vend_unsettled'], JSON.stringify(r));
  assert.deepEqual(await qrW1, { result: 'declined', reason: 'vend_unsettled', machineId: 'W1' });
  await starting;
  const startMs = startedAt - t0;
  console.log(
    `  start-up reconcile: first read ${Math.round(firstReadIn)} ms after the credit (waited: ${inWait}), start() took ${Math.round(startMs)} ms, ` +
      `window waits [${windowWaits().join(', ')}] ms (window ${LW485_RESULT_WITHIN_MS}); a swipe at C1 meanwhile decided in ${Math.round(otherDecidedMs)} ms (${c1.result}, during the wait: ${otherDecidedInWait})`,
  );
  assert.ok(windowWaits().length <= 1, `one window for the whole start-up, not one per machine: ${windowWaits().join(', ')}`);
  assert.equal(c1.result, 'captured', `a swipe at another machine is decided: ${JSON.stringify(c1)}`);

  // W1 ran the credit during the wait: captured, the machine holds it once (nothing on top).
  assert.equal(daemon.ledger.getVend(lateW1)?.state, 'captured');
  assert.equal(sim.room.control.lw485(1).lastSeq, w1Seq + 1, 'no command on top of the unsettled one');
  assert.equal(sim.room.control.lw485(1).creditCents, 250);
  // The never-sent credits: one refunded, the other's refund not stored (still credit_sent, blocked).
  const states = [daemon.ledger.getVend(neverW2)?.state, daemon.ledger.getVend(neverD1)?.state].sort();
  assert.deepEqual(states, ['credit_sent', 'refunded'], 'a refund not stored is not reported refunded');
  const pending = daemon.ledger.getVend(neverW2)?.state === 'credit_sent' ? 'W2' : 'D1';
  assert.ok(daemon.engine.blockedMachines().includes(pending), `${pending} waits for its refund`);
  await daemon.engine.retryTick();
  assert.equal(daemon.ledger.getVend(neverW2)?.state, 'refunded');
  assert.equal(daemon.ledger.getVend(neverD1)?.state, 'refunded');
  assert.deepEqual(daemon.engine.blockedMachines(), []);
  await daemon.engine.retryTick();

  // Exactly once, in the ledger, the audit trail and the outbox.
  for (const v of [neverW2, neverD1]) assert.equal(countOf(auditKinds(daemon.ledger, v), 'refund'), 1, `${v} refunded once`);
  assert.equal(countOf(auditKinds(daemon.ledger, lateW1), 'capture'), 1);
  assert.equal(countOf(auditKinds(daemon.ledger, lateW1), 'refund'), 0);
  assert.equal(daemon.ledger.balance(CARDS.alice.accountId)?.balanceCents, balance0 - 250, 'alice paid the one cycle W1 runs');
  assert.equal(daemon.ledger.balance(CARDS.bob.accountId)?.balanceCents, bob0 - (c1.result === 'captured' ? c1.amountCents : 0), 'bob paid C1 only');
  // Every refusal is in the audit trail with its reason.
  const audit = daemon.ledger.readAudit(1, 100_000);
  const onW1 = audit.filter((r) => r.machineId === 'W1' && r.reason === 'vend_unsettled');
  assert.ok(onW1.some((r) => r.kind === 'decline' && r.method === 'card'), 'the card decline audited');
  assert.ok(onW1.some((r) => r.kind === 'decline' && r.method === 'qr'), 'the QR decline audited');
  assert.equal(onW1.filter((r) => r.kind === 'command').length, 4, `each command's refusal audited: ${JSON.stringify(audit.filter((r) => r.machineId === 'W1').map((r) => [r.kind, r.reason]))}`);
  assert.equal(daemon.ledger.verifyAudit().ok, true);
  assert.deepEqual(daemon.ledger.selfCheck().problems, []);
});

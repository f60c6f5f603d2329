// SIGTERM while a vend is under way: the daemon finishes the vend (held, credited, read back,
// captured) before it closes the bus and the ledger, then exits 0 within the unit's stop timeout.
// The washer is made slow to show a command's result, so the signal lands mid-vend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { startGateway } from './harness.js';

const UNIT = join(dirname(new URL(import.meta.url).pathname), '..', '..', 'systemd', 'laundry-gateway.service');
const timeoutStopSec = Number(/^TimeoutStopSec=(\d+)$/m.exec(readFileSync(UNIT, 'utf8'))?.[1]);

function lines(log: string): Array<{ msg?: string; result?: string }> {
  return log
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg?: string; result?: string });
}

test('SIGTERM during a vend: the vend completes, nothing is left half-done, exit 0 within TimeoutStopSec', async () => {
  assert.ok(timeoutStopSec > 0);
  // the LW-485 shows the result after 400 ms: the engine reads back a few times before capturing
  const gw = await startGateway({ commandResultDelayMs: 400 });
  try {
    gw.swipe(DEMO_CARDS[0].uid);
    await gw.waitForLog(/"msg":"vend held"/, 'the hold');
    gw.child.kill('SIGTERM');
    const exit = await Promise.race([gw.exited, sleep(timeoutStopSec * 1000, 'timeout' as const, { ref: false })]);
    assert.notEqual(exit, 'timeout', `still running ${timeoutStopSec} s after SIGTERM (systemd would SIGKILL it):\n${gw.logs().slice(-3000)}`);
    assert.equal(exit !== 'timeout' && exit.code, 0, gw.logs().slice(-3000));

    const msgs = lines(gw.logs());
    const at = (pred: (l: { msg?: string; result?: string }) => boolean): number => msgs.findIndex(pred);
    const stopping = at((l) => l.msg?.startsWith('stopping:') === true);
    const captured = at((l) => l.result === 'captured');
    const stopped = at((l) => l.msg === 'gateway stopped');
    assert.ok(stopping >= 0 && captured >= 0 && stopped >= 0, gw.logs().slice(-3000));
    assert.ok(stopping < captured, 'the signal arrived while the vend was in flight');
    assert.ok(captured < stopped, 'the vend finished before the ledger closed');

    // the stopped daemon's ledger, read the way an operator would
    const [tx, status, audit] = await Promise.all([gw.cli('tx', '--json'), gw.cli('status', '--json'), gw.cli('audit', 'verify')]);
    const vends = (JSON.parse(tx.stdout) as { vends: Array<{ state: string; machineId: string; capturedCents: number | null }> }).vends;
    assert.equal(vends.length, 1);
    assert.equal(vends[0]?.state, 'captured');
    assert.equal(vends[0]?.machineId, 'W1');
    assert.equal(status.code, 3, 'daemon not running');
    assert.equal((JSON.parse(status.stdout) as { ledger: { unfinishedVends: number } }).ledger.unfinishedVends, 0);
    assert.equal(audit.code, 0, audit.stdout);
    // and the machine agrees: it holds the credit the ledger captured
    const w1 = gw.room.control.lw485(1);
    assert.equal(w1.creditCents, vends[0]?.capturedCents);
  } finally {
    await gw.close();
  }
});

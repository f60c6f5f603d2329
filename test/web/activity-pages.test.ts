// The status page's audit tail reads one page per turn of the event loop: a burst of audit
// records (a backlog written at once) is caught up over several turns, never in one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import pino from 'pino';
import { ActivityTail, TURN_PAGE } from '../../gateway/web/activity.js';
import { openTestLedger, tempDir } from '../storage/helpers.js';

test('a burst of audit records is read one page per turn, and all of it', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  const tail = new ActivityTail(
    { auditHeadSeq: () => l.auditHead().seq, readAudit: (from, n) => l.readAudit(from, n), getVend: (id) => l.getVend(id) },
    { pollMs: 60_000, keepAlerts: 10, logger: pino({ level: 'silent' }) },
  );
  try {
    tail.start();
    const burst = TURN_PAGE * 3 + 7;
    for (let i = 0; i < burst; i++) l.recordDecline({ method: 'card', reason: 'unknown_card', machineId: 'W1' });
    const read = (): number => tail.counts.declines.get('unknown_card') ?? 0;
    tail.poll();
    assert.equal(read(), TURN_PAGE, 'one page in this turn');
    await turn();
    assert.equal(read(), TURN_PAGE * 2, 'the next page on the next turn');
    for (let i = 0; i < 5; i++) await turn();
    assert.equal(read(), burst, 'caught up');
  } finally {
    tail.stop();
    l.close();
    t.cleanup();
  }
});

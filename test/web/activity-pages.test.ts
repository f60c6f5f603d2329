// The status page's audit tail reads one page per turn of the event loop: a burst of audit
// records (a backlog written at once) is caught up over several turns, never in one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { ActivityTail, TURN_PAGE } from '../../gateway/web/activity.js';
import { openTestLedger, tempDir } from '../storage/helpers.js';

test('a burst of audit records is read one page per turn, and all of it', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  const tail = new ActivityTail(
    { auditHeadSeq: () => l.auditHead().seq, readAudit: (from, n) => l.readAudit(from, n), getVend: (id) => l.getVend(id) },
    { pollMs: 60_000, idlePollMs: 60_000, keepAlerts: 10, logger: pino({ level: 'silent' }) },
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

test('the tail follows closely only while a page watches, and catches up when one opens', async () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  const tail = new ActivityTail(
    { auditHeadSeq: () => l.auditHead().seq, readAudit: (from, n) => l.readAudit(from, n), getVend: (id) => l.getVend(id) },
    { pollMs: 20, idlePollMs: 60_000, keepAlerts: 10, logger: pino({ level: 'silent' }) },
  );
  const read = (): number => tail.counts.declines.get('unknown_card') ?? 0;
  const decline = (): void => void l.recordDecline({ method: 'card', reason: 'unknown_card', machineId: 'W1' });
  try {
    tail.start();
    decline();
    await sleep(200);
    assert.equal(read(), 0, 'nobody watches: not looked for at the fast pace');
    tail.setWatched(true);
    assert.equal(read(), 1, 'a page that opens sees at once what happened before');
    decline();
    const until = Date.now() + 5000;
    while (read() < 2 && Date.now() < until) await sleep(10);
    assert.equal(read(), 2, 'while watched, found at the fast pace');
    tail.setWatched(false);
    decline();
    await sleep(200);
    assert.equal(read(), 2, 'the page closed: back to the slow pace');
    tail.poll();
    assert.equal(read(), 3, 'a request (/metrics, /api/status) catches up');
  } finally {
    tail.stop();
    l.close();
    t.cleanup();
  }
});

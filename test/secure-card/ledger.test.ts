// Secure cards in a real ledger file: the list's secure fields, the room's counter spent in the
// hold's or decline's own transaction, replays refused across a reopen and a SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { silentLogger } from '../../gateway/core/log.js';
import { hashUid } from '../../storage/index.js';
import { openDatabase } from '../../storage/db.js';
import { MIGRATIONS } from '../../storage/migrations.js';
import { ROOM_SECRET, cardHold, openTestLedger, tempDir } from '../storage/helpers.js';

const UID = '04A2B9C1D25E80';
const OTHER = '04519C2A6B1190';

function auditReasons(path: string): { kind: string; reason: string | null; detail: string | null }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT kind, reason, detail FROM audit ORDER BY seq').all() as { kind: string; reason: string | null; detail: string | null }[];
  } finally {
    db.close();
  }
}

test('the card list carries secure, fleetCounter and keyVersion; the room counter outlives a full list', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    l.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true, fleetCounter: 5, keyVersion: 2 }, { uid: OTHER, accountId: 'b', status: 'active' }] });
    assert.deepEqual(l.secureCardFacts(UID), { listed: { secure: true, fleetCounter: 5, keyVersion: 2 }, roomCounter: null });
    assert.deepEqual(l.secureCardFacts(OTHER.toLowerCase()), { listed: { secure: false, fleetCounter: null, keyVersion: null }, roomCounter: null });
    assert.deepEqual(l.secureCardFacts('DEADBEEF'), { listed: null, roomCounter: null });
    assert.equal(l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 6 })).ok, true);
    // A later full list without the card: the list forgets it, the room's counter does not.
    l.applyCardList({ kind: 'full', version: 2, cards: [] });
    assert.deepEqual(l.secureCardFacts(UID), { listed: null, roomCounter: 6 });
    l.close();
    l = openTestLedger(path);
    assert.deepEqual(l.secureCardFacts(UID), { listed: null, roomCounter: 6 });
    assert.equal(l.sunCounterCount(), 1);
    // The file holds no UID: only its HMAC.
    l.close();
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare('SELECT hex(uid_hash) AS h FROM sun_counters').get() as { h: string };
    raw.close();
    assert.equal(row.h.length, 64);
    assert.ok(!row.h.includes(UID));
    l = openTestLedger(path);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a hold spends the counter in its transaction; the same or a lower counter is declined replayed, also after a reopen', () => {
  const t = tempDir();
  const path = t.file('l.db');
  let l = openTestLedger(path);
  try {
    l.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true }] });
    const first = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 7 }));
    assert.equal(first.ok, true);
    const again = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 7 }));
    assert.equal(again.ok ? 'ok' : again.outcome, 'replayed');
    l.close();
    l = openTestLedger(path);
    const lower = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 6 }));
    assert.equal(lower.ok ? 'ok' : lower.outcome, 'replayed');
    const same = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 7 }));
    assert.equal(same.ok ? 'ok' : same.outcome, 'replayed');
    assert.equal(l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 8 })).ok, true);
    assert.equal(l.secureCardFacts(UID).roomCounter, 8);
    // The accepted holds' uplink records carry the counter; the declines name it in the audit.
    const holds = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 }).records.filter((r) => r.type === 'vend.hold');
    assert.deepEqual(holds.map((r) => (r.payload as { sunCounter?: number }).sunCounter), [7, 8]);
    const declines = auditReasons(path).filter((a) => a.kind === 'decline');
    assert.deepEqual(declines.map((d) => d.reason), ['replayed', 'replayed', 'replayed']);
    assert.deepEqual(declines.map((d) => (JSON.parse(d.detail ?? '{}') as { sunCounter?: number }).sunCounter), [7, 6, 7]);
    assert.equal(l.verifyAudit().ok, true);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('a hold declined for funds still spends the message; a decline carrying the counter spends it; a replayed decline spends nothing', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    const poor = l.hold(cardHold('a', 500, { sunCounter: 3 }));
    assert.equal(poor.ok ? 'ok' : poor.outcome, 'insufficient_funds');
    assert.equal(l.secureCardFacts(UID).roomCounter, 3);
    const again = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 3 }));
    assert.equal(again.ok ? 'ok' : again.outcome, 'replayed');
    // Declined by the engine for another reason (a blocked card, a busy machine): spent with it.
    l.recordDecline({ method: 'card', reason: 'machine_busy', cardUid: UID, machineId: 'W1', sunCounter: 4 });
    assert.equal(l.secureCardFacts(UID).roomCounter, 4);
    l.recordDecline({ method: 'card', reason: 'replayed', cardUid: UID, machineId: 'W1', sunCounter: 2 });
    assert.equal(l.secureCardFacts(UID).roomCounter, 4);
    const last = auditReasons(l.path).at(-1);
    assert.deepEqual(JSON.parse(last?.detail ?? '{}'), { sunCounter: 2, sunCounterSpent: false });
    assert.throws(() => l.recordDecline({ method: 'card', reason: 'x', sunCounter: 9 }), /sunCounter needs cardUid/);
    assert.throws(() => l.hold(cardHold('a', 0, { funding: 'none', cardUid: undefined, sunCounter: 9 })), /sunCounter needs cardUid/);
    assert.throws(() => l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 0x1000000 })));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('the fleet counter from the card list is a floor too', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true, fleetCounter: 20 }] });
    const r = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 20 }));
    assert.equal(r.ok ? 'ok' : r.outcome, 'replayed');
    assert.equal(l.secureCardFacts(UID).roomCounter, null);
    assert.equal(l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 21 })).ok, true);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('the schema itself refuses a counter that goes back or is deleted', () => {
  const t = tempDir();
  const path = t.file('l.db');
  const l = openTestLedger(path);
  l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 10 }));
  l.close();
  const raw = new Database(path);
  try {
    assert.throws(() => raw.prepare('UPDATE sun_counters SET counter = 9').run(), /only goes up/);
    assert.throws(() => raw.prepare('DELETE FROM sun_counters').run(), /never deleted/);
  } finally {
    raw.close();
    t.cleanup();
  }
});

test('SIGKILL while holding with counters: after each kill every reported counter is spent and refused again, none twice', async () => {
  const t = tempDir();
  const path = t.file('l.db');
  const child = fileURLToPath(new URL('./spend-child.ts', import.meta.url));
  try {
    let reported: number[] = [];
    for (let round = 0; round < 4; round++) {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, path, ROOM_SECRET.toString('hex'), UID], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
      const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
      await new Promise<void>((resolve, reject) => {
        proc.stdout.setEncoding('utf8').on('data', (s: string) => {
          out += s;
          // Let it commit for a while, then kill it mid-stream.
          if (out.split('\n').length > 20 + round * 7) resolve();
        });
        proc.on('exit', () => reject(new Error(`child exited: ${err}`)));
      });
      proc.kill('SIGKILL');
      await exited;
      reported = reported.concat(out.split('\n').filter((s) => /^\d+$/.test(s)).map(Number));
      const l = openTestLedger(path);
      try {
        const facts = l.secureCardFacts(UID);
        const max = Math.max(...reported);
        assert.ok((facts.roomCounter ?? -1) >= max, `room counter ${String(facts.roomCounter)} below a reported ${max}`);
        for (const c of [max, reported[0] ?? 1]) {
          const r = l.hold(cardHold('a', 0, { funding: 'none', sunCounter: c }));
          assert.equal(r.ok ? 'ok' : r.outcome, 'replayed', `counter ${c} after kill ${round}`);
        }
        const counters = l.outbox
          .nextBatch({ maxCount: 100_000, maxBytes: 1 << 26 })
          .records.filter((r) => r.type === 'vend.hold')
          .map((r) => (r.payload as { sunCounter: number }).sunCounter);
        assert.equal(new Set(counters).size, counters.length, 'one counter held twice');
        assert.equal(Math.max(...counters), facts.roomCounter);
        assert.equal(l.selfCheck().ok, true);
      } finally {
        l.close();
      }
    }
  } finally {
    t.cleanup();
  }
});

test('upgrade: a file from before migration 11 keeps its cards, plain, and takes counters from then on', () => {
  const t = tempDir();
  const path = t.file('l.db');
  try {
    const old = openDatabase({ path, logger: silentLogger(), migrations: MIGRATIONS.filter((m) => m.version < 11) });
    old.prepare("INSERT INTO accounts (account_id, version, balance_cents, points, tier, covered_seq, snapshot_ms) VALUES ('a', 0, 0, 0, 'standard', 0, 0)").run();
    old.prepare("INSERT INTO cards (uid_hash, account_id, status, version) VALUES (?, 'a', 'active', 1)").run(hashUid(ROOM_SECRET, UID));
    old.close();
    const l = openTestLedger(path);
    try {
      assert.deepEqual(l.secureCardFacts(UID), { listed: { secure: false, fleetCounter: null, keyVersion: null }, roomCounter: null });
      assert.equal(l.lookupCard(UID)?.accountId, 'a');
      assert.equal(l.hold(cardHold('a', 0, { funding: 'none', sunCounter: 1 })).ok, true);
      assert.deepEqual(l.selfCheck().problems, []);
    } finally {
      l.close();
    }
  } finally {
    t.cleanup();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { auditHash, genesisHash, type AuditRecord } from '../../storage/audit.js';
import { cardHold, openTestLedger, tempDir } from './helpers.js';

type Raw = InstanceType<typeof Database>;

/** A closed ledger with 6 audit records (top-up, hold, credit, capture, decline, alert). */
function buildLedger(path: string): { head: { seq: number; hash: string } } {
  const l = openTestLedger(path);
  l.applyTopUp({ cloudId: 't', accountId: 'a', amountCents: 1000, accountVersion: 1 });
  const h = l.hold(cardHold('a', 300));
  assert.ok(h.ok);
  l.markCreditSent(h.vendId, { seq: 9 });
  l.capture(h.vendId);
  l.recordDecline({ method: 'card', reason: 'card_unknown', machineId: 'W1' });
  l.appendAlert({ code: 'bus_down' });
  const v = l.verifyAudit();
  assert.ok(v.ok);
  assert.equal(v.count, 6);
  const head = l.auditHead();
  assert.deepEqual(head, v.head);
  l.close();
  return { head };
}

function tamper(path: string, fn: (raw: Raw) => void): void {
  const raw = new Database(path);
  raw.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  fn(raw);
  raw.close();
}

function verdictAfter(t: ReturnType<typeof tempDir>, name: string, fn: (raw: Raw) => void) {
  const src = t.file('base.db');
  const path = t.file(`${name}.db`);
  copyFileSync(src, path);
  tamper(path, fn);
  const l = openTestLedger(path);
  try {
    return l.verifyAudit();
  } finally {
    l.close();
  }
}

interface Row {
  [k: string]: unknown;
}

test('audit verification finds edits, deletions, insertions and reordering, and says where', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));

    const edited = verdictAfter(t, 'edit', (raw) => raw.prepare('UPDATE audit SET amount_cents = 1 WHERE seq = 3').run());
    assert.deepEqual(edited.ok ? null : [edited.atSeq, /edited/.test(edited.problem)], [3, true]);

    const deleted = verdictAfter(t, 'delete', (raw) => raw.prepare('DELETE FROM audit WHERE seq = 3').run());
    assert.deepEqual(deleted.ok ? null : [deleted.atSeq, /missing/.test(deleted.problem)], [3, true]);

    const cutTail = verdictAfter(t, 'tail', (raw) => raw.prepare('DELETE FROM audit WHERE seq = 6').run());
    assert.equal(cutTail.ok, false);
    assert.ok(!cutTail.ok && cutTail.atSeq === 6);

    // Insert a well-formed forged record after seq 2, renumbering the rest (a careful forger).
    const inserted = verdictAfter(t, 'insert', (raw) => {
      raw.prepare('UPDATE audit SET seq = seq + 1000 WHERE seq >= 3').run();
      raw.prepare('UPDATE audit SET seq = seq - 999 WHERE seq >= 1003').run();
      const prev = raw.prepare('SELECT * FROM audit WHERE seq = 2').get() as Row;
      const forged: Row = { ...prev, seq: 3, amount_cents: 0, prev_hash: prev.hash };
      const content = {
        seq: 3, wallMs: Number(forged.wall_ms), monoMs: Number(forged.mono_ms), bootId: String(forged.boot_id), clockTrusted: forged.clock_trusted === 1,
        kind: String(forged.kind), method: forged.method as string | null, amountCents: 0, accountId: forged.account_id as string | null,
        cardMask: forged.card_mask as string | null, machineId: forged.machine_id as string | null, program: forged.program as number | null,
        result: String(forged.result), reason: forged.reason as string | null, vendId: forged.vend_id as string | null, detail: forged.detail as string | null,
      };
      forged.hash = auditHash(String(prev.hash), content);
      const cols = Object.keys(forged);
      raw.prepare(`INSERT INTO audit (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => forged[c]));
    });
    assert.equal(inserted.ok, false);
    assert.ok(!inserted.ok && inserted.atSeq === 4, JSON.stringify(inserted));

    // Swap two whole records' places.
    const reordered = verdictAfter(t, 'reorder', (raw) => {
      raw.prepare('UPDATE audit SET seq = 100 WHERE seq = 2').run();
      raw.prepare('UPDATE audit SET seq = 2 WHERE seq = 3').run();
      raw.prepare('UPDATE audit SET seq = 3 WHERE seq = 100').run();
    });
    assert.equal(reordered.ok, false);
    assert.ok(!reordered.ok && reordered.atSeq === 2);

    // An appended record with a made-up hash.
    const appended = verdictAfter(t, 'append', (raw) => {
      const last = raw.prepare('SELECT * FROM audit WHERE seq = 6').get() as Row;
      const row: Row = { ...last, seq: 7, prev_hash: last.hash, hash: 'f'.repeat(64) };
      const cols = Object.keys(row);
      raw.prepare(`INSERT INTO audit (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...cols.map((c) => row[c]));
    });
    assert.ok(!appended.ok && appended.atSeq === 7);

    const untouched = verdictAfter(t, 'none', () => undefined);
    assert.equal(untouched.ok, true);
  } finally {
    t.cleanup();
  }
});

test('the audit trail refuses updates and deletes through SQL', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    buildLedger(path);
    const raw = new Database(path);
    try {
      assert.throws(() => raw.prepare('UPDATE audit SET result = ? WHERE seq = 1').run('x'), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM audit WHERE seq = 1').run(), /append-only/);
      assert.throws(() => raw.prepare('DELETE FROM entries').run(), /append-only/);
      assert.throws(() => raw.prepare("UPDATE vends SET state = 'refunded' WHERE state = 'captured'").run(), /already finished/);
    } finally {
      raw.close();
    }
  } finally {
    t.cleanup();
  }
});

test('the audit head moves with every record and survives reopen', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const { head } = buildLedger(path);
    const l = openTestLedger(path);
    try {
      assert.deepEqual(l.auditHead(), head);
      const batch = l.outbox.nextBatch({ maxCount: 1, maxBytes: 1 });
      assert.deepEqual(batch.auditHead, head);
      l.appendAlert({ code: 'x' });
      assert.equal(l.auditHead().seq, head.seq + 1);
      assert.equal(l.readAudit(head.seq + 1, 1)[0]?.prevHash, head.hash);
    } finally {
      l.close();
    }
  } finally {
    t.cleanup();
  }
});

test('the cloud can check the chain from the outbox records alone', () => {
  const t = tempDir();
  try {
    const path = t.file('l.db');
    const { head } = buildLedger(path);
    const l = openTestLedger(path);
    try {
      l.enqueueEvent('machine_state', { machineId: 'W1' });
      const batch = l.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 });
      const audits = batch.records
        .map((r) => (r.payload as { audit?: AuditRecord }).audit)
        .filter((a): a is AuditRecord => a !== undefined);
      assert.equal(audits.length, head.seq, 'one audit record per fact, none for plain events');
      let prev = genesisHash('gw-test');
      for (const a of audits) {
        assert.equal(a.prevHash, prev);
        const { prevHash: _p, hash: _h, ...content } = a;
        assert.equal(auditHash(prev, content), a.hash);
        prev = a.hash;
      }
      assert.equal(prev, batch.auditHead.hash);
    } finally {
      l.close();
    }
  } finally {
    t.cleanup();
  }
});

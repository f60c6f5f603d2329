// Issue 13 item 1: someone with a copy of the ledger edits money rows with sqlite3 (dropping the
// append-only triggers first). `audit verify` (Ledger.verifyAudit) must name every row that
// disagrees with the money chain, and a chain rewritten and recomputed to match must still be
// caught by the heads the cloud acknowledged. Each attack on a real file, closed and reopened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { auditHash, genesisHash, verifyAudit, type AuditRow } from '../../storage/audit.js';
import { moneyLinkHash, type LinkDetail, type MoneyLinkRow } from '../../storage/money-chain.js';
import type { AuditHead, LedgerVerdict } from '../../storage/index.js';
import { GATEWAY_ID, cardHold, manualClock, openTestLedger, tempDir } from './helpers.js';

type Raw = InstanceType<typeof Database>;

interface Base {
  vendId: string;
  /** The heads the cloud acknowledged (and keeps on its side). */
  cloud: { audit: AuditHead; money: AuditHead };
}

/** A top-up of 20.00, a captured vend of 2.50 (balance 17.50), a snapshot of another account, a fault refund; all acknowledged. */
function buildLedger(path: string): Base {
  const l = openTestLedger(path);
  try {
    assert.ok(l.applyTopUp({ cloudId: 'top-1', accountId: 'a', amountCents: 2000, accountVersion: 1 }).applied);
    const h = l.hold(cardHold('a', 250));
    assert.ok(h.ok);
    assert.ok(l.markCreditSent(h.vendId, { seq: 1 }).ok);
    assert.ok(l.capture(h.vendId).ok);
    assert.ok(l.applyAccountSnapshot({ accountId: 'b', version: 3, balanceCents: 900, points: 5, tier: 'std', coveredSeq: 0 }).applied);
    const h2 = l.hold(cardHold('a', 300));
    assert.ok(h2.ok && l.markCreditSent(h2.vendId, { seq: 2 }).ok && l.capture(h2.vendId).ok);
    assert.ok(l.refundCaptured(h2.vendId, { reason: 'fault_abort', amountCents: 300 }).ok);
    assert.equal(l.balance('a')?.balanceCents, 1750);
    const batch = l.outbox.nextBatchJson({ maxCount: 500, maxBytes: 1 << 20 });
    const cloud = { audit: batch.auditHead, money: batch.moneyHead };
    l.outbox.ack(batch.records.at(-1)?.seq ?? 0, cloud);
    const v = l.verifyAudit();
    assert.ok(v.ok, JSON.stringify(v));
    assert.ok(v.anchors.length === 2 && v.anchors.every((a) => a.result === 'contained'), JSON.stringify(v.anchors));
    return { vendId: h.vendId, cloud };
  } finally {
    l.close();
  }
}

function attack(t: ReturnType<typeof tempDir>, name: string, sql: (raw: Raw) => void): string {
  const path = t.file(`${name}.db`);
  copyFileSync(t.file('base.db'), path);
  const raw = new Database(path);
  sql(raw);
  raw.close();
  return path;
}

function verdict(path: string, heads?: { audit?: AuditHead; money?: AuditHead }): LedgerVerdict & { balance: number | undefined } {
  const l = openTestLedger(path);
  try {
    return { ...l.verifyAudit(heads), balance: l.balance('a')?.balanceCents };
  } finally {
    l.close();
  }
}

function problems(v: LedgerVerdict): string {
  return v.ok ? '(intact)' : v.problems.join('\n');
}

/** Rewrites the money chain from link `from` on with `edit` applied to each link's detail, every hash recomputed, the stored head too. */
function rewriteChain(raw: Raw, edit: (d: LinkDetail) => LinkDetail): void {
  raw.exec('DROP TRIGGER money_chain_no_update');
  const links = raw.prepare('SELECT * FROM money_chain ORDER BY seq').all() as MoneyLinkRow[];
  let prev = links[0]?.prev_hash ?? '';
  for (const l of links) {
    const detail = JSON.stringify(edit(JSON.parse(l.detail) as LinkDetail));
    const hash = moneyLinkHash(prev, { ...l, detail });
    raw.prepare('UPDATE money_chain SET detail = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(detail, prev, hash, l.seq);
    prev = hash;
  }
  raw.prepare("UPDATE meta SET value = ? WHERE key = 'money_head_hash'").run(prev);
}

const topUpTo = (cents: number) => (d: LinkDetail): LinkDetail => ({ ...d, e: d.e?.map((e) => (e[2] === 'topup' ? [e[0], e[1], e[2], cents, e[4], e[5], e[6], e[7], e[8]] : e)) });

test('the issue\'s attack: drop the trigger, raise a top-up; verify names the row and the balance, exit not ok', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));
    const path = attack(t, 'topup', (raw) => raw.exec("DROP TRIGGER entries_no_update; UPDATE entries SET amount_cents = 200000 WHERE kind = 'topup'"));
    const v = verdict(path);
    assert.equal(v.balance, 199_750, 'the attack worked on the balance');
    assert.equal(v.ok, false);
    const p = problems(v);
    assert.match(p, /entries row \d+ \(topup of account a\) edited: amount_cents 200000, the chain says 2000/);
    assert.match(p, /account a: balance 199750 cents and 0 points from the tables, 1750 cents and 0 points by the money chain/);
  } finally {
    t.cleanup();
  }
});

test('an edited vend amount, a captured vend turned refunded, an edited snapshot and fault refund are named', () => {
  const t = tempDir();
  try {
    const base = buildLedger(t.file('base.db'));
    const vend = attack(t, 'vend', (raw) => raw.exec(`DROP TRIGGER vends_finished_frozen; UPDATE vends SET amount_cents = 50, captured_cents = 50 WHERE vend_id = '${base.vendId}'`));
    assert.match(problems(verdict(vend)), new RegExp(`vends row ${base.vendId} edited: amount_cents 50, the chain says 250; captured_cents 50, the chain says 250`));
    const state = attack(t, 'state', (raw) => raw.exec(`DROP TRIGGER vends_finished_frozen; UPDATE vends SET state = 'refunded', refunded_cents = 250, captured_cents = NULL WHERE vend_id = '${base.vendId}'`));
    assert.match(problems(verdict(state)), /state "refunded", the chain says "captured"/);
    const snap = attack(t, 'snapshot', (raw) => raw.exec("UPDATE accounts SET balance_cents = 90000 WHERE account_id = 'b'"));
    assert.match(problems(verdict(snap)), /accounts row b edited: balance_cents 90000, the chain says 900/);
    const fresh = attack(t, 'fresh-account', (raw) => raw.exec("INSERT INTO accounts (account_id, version, balance_cents, points, tier, covered_seq, snapshot_ms) VALUES ('z', 0, 5000, 0, '', 0, 0)"));
    assert.match(problems(verdict(fresh)), /accounts row z edited: balance_cents 5000, the chain says 0/);
    const adj = attack(t, 'adjustment', (raw) => raw.exec('DROP TRIGGER vend_adjustments_no_update; UPDATE vend_adjustments SET amount_cents = 299'));
    assert.match(problems(verdict(adj)), /vend_adjustments row .* edited: amount_cents 299, the chain says 300/);
  } finally {
    t.cleanup();
  }
});

test('a deleted entry and an inserted entry are named', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));
    const deleted = attack(t, 'deleted', (raw) => raw.exec("DROP TRIGGER entries_no_delete; DELETE FROM entries WHERE kind = 'hold' AND amount_cents = -250"));
    const d = verdict(deleted);
    assert.equal(d.balance, 2000);
    assert.match(problems(d), /entries row \d+ \(hold -250 of account a\) is missing \(deleted; link \d+ binds it\)/);
    const inserted = attack(t, 'inserted', (raw) =>
      raw.exec("INSERT INTO entries (account_id, kind, amount_cents, points, cloud_id, account_version, outbox_seq, created_ms) VALUES ('a', 'topup', 50000, 0, 'forged', 9, 1, 0)"),
    );
    assert.match(problems(verdict(inserted)), /entries row \d+ \(topup of account a\): amount_cents 50000 is not in the money chain \(inserted\)/);
  } finally {
    t.cleanup();
  }
});

test('a link appended to rebind an edited row is caught: rows are bound once', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));
    const path = attack(t, 'rebind', (raw) => {
      raw.exec("DROP TRIGGER entries_no_update; UPDATE entries SET amount_cents = 200000 WHERE kind = 'topup'");
      const head = raw.prepare('SELECT * FROM money_chain ORDER BY seq DESC LIMIT 1').get() as MoneyLinkRow;
      const entry = raw.prepare("SELECT entry_id, account_id, kind, amount_cents, points, vend_id, cloud_id, account_version, outbox_seq FROM entries WHERE kind = 'topup'").raw().get() as unknown[];
      const link = { seq: head.seq + 1, wall_ms: head.wall_ms, audit_seq: head.audit_seq, audit_hash: head.audit_hash, outbox_seq: head.outbox_seq, detail: JSON.stringify({ e: [entry] }) };
      const hash = moneyLinkHash(head.hash, link);
      raw.prepare('INSERT INTO money_chain (seq, wall_ms, audit_seq, audit_hash, outbox_seq, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(link.seq, link.wall_ms, link.audit_seq, link.audit_hash, link.outbox_seq, link.detail, head.hash, hash);
      raw.prepare("UPDATE meta SET value = ? WHERE key = 'money_head_seq'").run(String(link.seq));
      raw.prepare("UPDATE meta SET value = ? WHERE key = 'money_head_hash'").run(hash);
    });
    assert.match(problems(verdict(path)), /link \d+ binds entries row \d+ again, differently \(amount_cents 200000, the chain says 2000\)/);
  } finally {
    t.cleanup();
  }
});

test('a rewritten and recomputed chain is caught by the acknowledged head, and by the cloud\'s head when the stored one is rewritten too', () => {
  const t = tempDir();
  try {
    const base = buildLedger(t.file('base.db'));
    const edit = (raw: Raw): void => {
      raw.exec("DROP TRIGGER entries_no_update; UPDATE entries SET amount_cents = 200000 WHERE kind = 'topup'");
      rewriteChain(raw, topUpTo(200000));
    };
    const rewritten = attack(t, 'rewritten', edit);
    const v = verdict(rewritten);
    assert.equal(v.balance, 199_750);
    assert.equal(v.ok, false);
    assert.deepEqual(v.problems, ['the money head the cloud acknowledged (#' + String(base.cloud.money.seq) + ') is not in the money chain: the history below it was rewritten']);

    // The attacker knows about the stored anchor and rewrites it too: only the cloud's copy is left.
    const thorough = attack(t, 'thorough', (raw) => {
      edit(raw);
      const head = raw.prepare("SELECT value FROM meta WHERE key = 'money_head_hash'").get() as { value: string };
      raw.prepare("UPDATE meta SET value = ? WHERE key = 'money_acked_hash'").run(head.value);
      raw.prepare("UPDATE meta SET value = (SELECT value FROM meta WHERE key = 'money_head_seq') WHERE key = 'money_acked_seq'").run();
    });
    assert.ok(verdict(thorough).ok, 'locally, a full rewrite looks intact');
    const withCloud = verdict(thorough, base.cloud);
    assert.equal(withCloud.ok, false);
    assert.match(problems(withCloud), /the given money head \(#\d+\) is not in the money chain: the history below it was rewritten/);
    // The untouched ledger proves the cloud's heads.
    const clean = verdict(t.file('base.db'), base.cloud);
    assert.ok(clean.ok && clean.anchors.filter((a) => a.source === 'given').every((a) => a.result === 'contained'), JSON.stringify(clean));
  } finally {
    t.cleanup();
  }
});

test('an audit trail rewritten and recomputed is caught by the money links that bind it and by the acknowledged audit head', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));
    const path = attack(t, 'audit', (raw) => {
      // The old weakness: the trail is unkeyed, so an edit with every hash recomputed verified intact.
      raw.exec("DROP TRIGGER audit_no_update; UPDATE audit SET amount_cents = 200000 WHERE kind = 'topup'");
      let prev = genesisHash(GATEWAY_ID);
      for (const r of raw.prepare('SELECT * FROM audit ORDER BY seq').all() as AuditRow[]) {
        const hash = auditHash(prev, {
          seq: r.seq, wallMs: r.wall_ms, monoMs: r.mono_ms, bootId: r.boot_id, clockTrusted: r.clock_trusted === 1, kind: r.kind, method: r.method,
          amountCents: r.amount_cents, accountId: r.account_id, cardMask: r.card_mask, machineId: r.machine_id, program: r.program, result: r.result,
          reason: r.reason, vendId: r.vend_id, detail: r.detail,
        });
        raw.prepare('UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?').run(prev, hash, r.seq);
        prev = hash;
      }
      raw.prepare("UPDATE meta SET value = ? WHERE key = 'audit_head_hash'").run(prev);
    });
    const raw = new Database(path, { readonly: true });
    assert.ok(verifyAudit(raw, GATEWAY_ID).ok, 'the hash chain alone says intact');
    raw.close();
    const v = verdict(path);
    assert.equal(v.ok, false);
    assert.match(problems(v), /money chain: link 1 binds audit record 1, which the audit trail no longer holds as it was/);
    assert.match(problems(v), /the audit head the cloud acknowledged \(#\d+\) is not in the audit trail: the history below it was rewritten/);
  } finally {
    t.cleanup();
  }
});

test('links cut off the end of the money chain show against the stored head', () => {
  const t = tempDir();
  try {
    buildLedger(t.file('base.db'));
    const cut = attack(t, 'cut', (raw) => raw.exec('DROP TRIGGER money_chain_no_delete; DELETE FROM money_chain WHERE seq = (SELECT MAX(seq) FROM money_chain)'));
    assert.match(problems(verdict(cut)), /stored head is link \d+ but the chain ends at/);
  } finally {
    t.cleanup();
  }
});

test('a bogus head in an ack is not kept, and leaves the anchor where it was', () => {
  const t = tempDir();
  try {
    const l = openTestLedger(t.file('l.db'));
    l.applyTopUp({ cloudId: 'x', accountId: 'a', amountCents: 100, accountVersion: 1 });
    const good = l.moneyHead();
    l.outbox.ack(1, { money: good, audit: l.auditHead() });
    l.applyTopUp({ cloudId: 'y', accountId: 'a', amountCents: 100, accountVersion: 2 });
    l.outbox.ack(2, { money: { seq: good.seq + 1, hash: 'f'.repeat(64) } });
    // A malformed head is left out; the watermark still applies.
    l.applyTopUp({ cloudId: 'z', accountId: 'a', amountCents: 100, accountVersion: 3 });
    assert.equal(l.outbox.ack(3, { audit: { seq: 3, hash: 'not a hash' } }).ackedSeq, 3);
    const v = l.verifyAudit();
    assert.ok(v.ok, JSON.stringify(v));
    assert.deepEqual(v.anchors.map((x) => [x.chain, x.seq, x.result]), [['audit', 1, 'contained'], ['money', good.seq, 'contained']]);
    l.close();
  } finally {
    t.cleanup();
  }
});

test('retention removes the acknowledged prefix of the money chain; the rows its links bound are carried forward and still checked', () => {
  const t = tempDir();
  try {
    const clock = manualClock();
    const path = t.file('pruned.db');
    const l = openTestLedger(path, { clock });
    assert.ok(l.applyAccountSnapshot({ accountId: 'b', version: 3, balanceCents: 900, points: 5, tier: 'std', coveredSeq: 0 }).applied);
    assert.ok(l.applyTopUp({ cloudId: 'top-1', accountId: 'a', amountCents: 2000, accountVersion: 1 }).applied);
    const h = l.hold(cardHold('a', 250));
    assert.ok(h.ok && l.markCreditSent(h.vendId, { seq: 1 }).ok && l.capture(h.vendId).ok);
    clock.advance(2 * 86_400_000);
    const batch = l.outbox.nextBatchJson({ maxCount: 500, maxBytes: 1 << 20 });
    l.outbox.ack(batch.records.at(-1)?.seq ?? 0, { audit: batch.auditHead, money: batch.moneyHead });
    const before = l.moneyHead();
    l.pruneHistory({ beforeMs: clock.now() - 86_400_000 });
    const v = l.verifyAudit();
    assert.ok(v.ok, JSON.stringify(v));
    assert.equal(v.money.links, 1, 'one link carries what the removed ones bound');
    assert.equal(v.money.head.seq, before.seq + 1);
    assert.deepEqual(v.anchors.find((a) => a.chain === 'money')?.result, 'contained', 'the acknowledged head is the anchor itself');
    assert.equal(l.balance('a')?.balanceCents, 1750);
    // A head older than the anchor cannot be proved any more: said so, not passed.
    const old = l.verifyAudit({ money: { seq: 1, hash: 'a'.repeat(64) } });
    assert.ok(!old.ok && /cannot be checked: retention removed the money chain up to #\d+/.test(old.problem), JSON.stringify(old));
    l.close();
    copyFileSync(path, t.file('base.db'));
    const snap = attack(t, 'snapshot', (raw) => raw.exec("UPDATE accounts SET balance_cents = 90000 WHERE account_id = 'b'"));
    assert.match(problems(verdict(snap)), /accounts row b edited: balance_cents 90000, the chain says 900/);
    const topUp = attack(t, 'topup', (raw) => raw.exec("DROP TRIGGER entries_no_update; UPDATE entries SET amount_cents = 200000 WHERE kind = 'topup'"));
    assert.match(problems(verdict(topUp)), /entries row \d+ \(topup of account a\) edited: amount_cents 200000, the chain says 2000/);
  } finally {
    t.cleanup();
  }
});

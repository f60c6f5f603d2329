// Issue 13 item 1 from the operator's seat: the real `laundry-gateway audit verify` and `doctor`
// on a ledger file someone edited with the triggers dropped (the daemon is down, so both read the
// file read-only). Before: "intact", exit 0, doctor all ok. Now: exit 1, the row and the balance named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { demoGatewayConfig, DEMO_ROOM_ID } from '../../gateway/demo/room.js';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock } from '../../gateway/core/clock.js';
import { openLedger } from '../../storage/index.js';
import { runCli } from './harness.js';

test('audit verify and doctor on an edited ledger file: exit 1, the row and the balance named; the cloud\'s head is taken on the command line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tamper-cli-'));
  try {
    const dbPath = join(dir, 'ledger.db');
    const l = openLedger({ path: dbPath, roomSecret: Buffer.alloc(32, 3), gatewayId: DEMO_ROOM_ID, bootId: 'b', clock: systemClock, logger: silentLogger() });
    l.applyTopUp({ cloudId: 'top-1', accountId: 'acct', amountCents: 2000, accountVersion: 1 });
    const h = l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: 250, accountId: 'acct', ruleSetVersion: '1', ruleId: 'r' });
    assert.ok(h.ok && l.markCreditSent(h.vendId, { seq: 1 }).ok && l.capture(h.vendId).ok);
    const batch = l.outbox.nextBatchJson({ maxCount: 100, maxBytes: 1 << 20 });
    l.outbox.ack(batch.records.at(-1)?.seq ?? 0, { audit: batch.auditHead, money: batch.moneyHead });
    const money = l.moneyHead();
    l.close();
    const demo = demoGatewayConfig({ tcpPort: 1502, dbPath, qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ ...demo, control: { socketPath: join(dir, 'control.sock') } }));
    const cfg = ['--config', configPath];

    const clean = await runCli(['audit', 'verify', ...cfg, '--money-head', `${money.seq}:${money.hash}`]);
    assert.equal(clean.code, 0, clean.stderr + clean.stdout);
    assert.match(clean.stdout, /money rows agree with the money chain: 3 entries, 1 vends, 1 accounts/);
    assert.match(clean.stdout, /given money head #\d+: contained/);

    copyFileSync(dbPath, join(dir, 'clean.db'));
    const raw = new Database(dbPath);
    raw.exec("DROP TRIGGER entries_no_update; UPDATE entries SET amount_cents = 200000 WHERE kind = 'topup'");
    raw.close();
    const bad = await runCli(['audit', 'verify', ...cfg]);
    assert.equal(bad.code, 1, bad.stdout);
    assert.match(bad.stdout, /LEDGER TAMPERED OR BROKEN/);
    assert.match(bad.stdout, /entries row 1 \(topup of account acct\) edited: amount_cents 200000, the chain says 2000/);
    assert.match(bad.stdout, /account acct: balance 199750 cents .* 1750 cents and 0 points by the money chain/);
    const json = await runCli(['audit', 'verify', ...cfg, '--json']);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; problems: string[] };
    assert.equal(parsed.ok, false);
    assert.ok(parsed.problems.length >= 2);

    const doc = await runCli(['doctor', ...cfg, '--json']);
    const checks = JSON.parse(doc.stdout) as Array<{ check: string; level: string; detail: string }>;
    const money13 = checks.find((c) => c.check === 'audit and money rows');
    assert.equal(money13?.level, 'fail', doc.stdout);
    assert.match(money13?.detail ?? '', /entries row 1 \(topup of account acct\) edited/);

    const usage = await runCli(['audit', 'verify', ...cfg, '--money-head', 'nonsense']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--money-head takes SEQ:HASH/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { prepareCrashChild, type ChildCommand } from './child.js';
import { GATEWAY_ID, ROOM_SECRET, openTestLedger, tempDir } from './helpers.js';

const UID_A = '04A2B9C1D25E80';
const UID_B = '0A1B2C3D';
const UID_C = '1122334455';

test('full and diff lists follow the version rules', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    assert.equal(l.cardListVersion(), 0);
    assert.deepEqual(l.applyCardList({ kind: 'full', version: 5, cards: [{ uid: UID_A, accountId: 'a', status: 'active' }, { uid: UID_B, accountId: 'b', status: 'lost' }] }), { ok: true, applied: true, version: 5, cards: 2 });
    assert.equal(l.lookupCard(UID_A)?.accountId, 'a');
    assert.equal(l.lookupCard(UID_A.toLowerCase())?.status, 'active');
    assert.equal(l.lookupCard(UID_A)?.mask, '**********5E80');
    assert.equal(l.lookupCard(UID_B)?.status, 'lost');
    assert.equal(l.lookupCard(UID_C), undefined);

    // A diff on the wrong base is refused; so is an older version; a re-delivery is a no-op.
    assert.deepEqual(l.applyCardList({ kind: 'diff', version: 7, baseVersion: 6, cards: [] }), { ok: false, reason: 'base_mismatch', currentVersion: 5 });
    assert.deepEqual(l.applyCardList({ kind: 'full', version: 4, cards: [] }), { ok: false, reason: 'stale', currentVersion: 5 });
    assert.deepEqual(l.applyCardList({ kind: 'diff', version: 3, baseVersion: 2, cards: [] }), { ok: false, reason: 'stale', currentVersion: 5 });
    assert.equal(l.applyCardList({ kind: 'full', version: 5, cards: [] }).ok, true);
    assert.equal(l.lookupCard(UID_A)?.accountId, 'a', 'a same-version re-delivery must not wipe the list');

    const d = l.applyCardList({ kind: 'diff', version: 6, baseVersion: 5, cards: [{ uid: UID_B, remove: true }, { uid: UID_C, accountId: 'c', status: 'active' }, { uid: UID_A, accountId: 'a', status: 'blocked' }] });
    assert.deepEqual(d, { ok: true, applied: true, version: 6, cards: 2 });
    assert.equal(l.lookupCard(UID_B), undefined);
    assert.equal(l.lookupCard(UID_C)?.accountId, 'c');
    assert.equal(l.lookupCard(UID_A)?.status, 'blocked');

    // A full list replaces everything.
    l.applyCardList({ kind: 'full', version: 9, cards: [{ uid: UID_B, accountId: 'b', status: 'active' }] });
    assert.equal(l.lookupCard(UID_A), undefined);
    assert.equal(l.lookupCard(UID_B)?.listVersion, 9);
    assert.throws(() => l.applyCardList({ kind: 'full', version: 10, cards: [{ uid: 'not-hex!', accountId: 'x', status: 'active' }] }));
    assert.equal(l.cardListVersion(), 9);
  } finally {
    l.close();
    t.cleanup();
  }
});

test('an operator block survives a full list and lifts only the local status', () => {
  const t = tempDir();
  const l = openTestLedger(t.file('l.db'));
  try {
    l.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID_A, accountId: 'a', status: 'active' }, { uid: UID_B, accountId: 'b', status: 'lost' }] });
    l.setCardStatus(UID_A, 'blocked');
    assert.equal(l.lookupCard(UID_A)?.status, 'blocked');
    l.applyCardList({ kind: 'full', version: 2, cards: [{ uid: UID_A, accountId: 'a', status: 'active' }, { uid: UID_B, accountId: 'b', status: 'lost' }] });
    assert.equal(l.lookupCard(UID_A)?.status, 'blocked');
    l.setCardStatus(UID_A, 'active');
    assert.equal(l.lookupCard(UID_A)?.status, 'active');
    l.setCardStatus(UID_B, 'active');
    assert.equal(l.lookupCard(UID_B)?.status, 'lost', 'the cloud\'s lost status is not lifted locally');
    const audit = l.readAudit(1, 10).filter((a) => a.kind === 'card_status');
    assert.equal(audit.length, 3);
    assert.ok(audit.every((a) => a.cardMask !== null && !a.cardMask.includes('04A2B9')));
  } finally {
    l.close();
    t.cleanup();
  }
});

test('no card UID is stored in clear anywhere in the file', () => {
  const t = tempDir();
  const path = t.file('l.db');
  const l = openTestLedger(path);
  const uids = [UID_A, UID_B, UID_C];
  l.applyCardList({ kind: 'full', version: 1, cards: uids.map((uid, i) => ({ uid, accountId: `acct-${i}`, status: 'active' as const })) });
  l.setCardStatus(UID_B, 'blocked');
  const h = l.hold({ method: 'card', funding: 'account', machineId: 'W1', amountCents: 0, accountId: 'acct-0', cardUid: UID_A, ruleSetVersion: '1', ruleId: 'r' });
  assert.ok(h.ok);
  l.recordDecline({ method: 'card', reason: 'card_blocked', cardUid: UID_B, machineId: 'W1' });
  const bytesBeforeClose = Buffer.concat([readFileSync(path), existsSync(`${path}-wal`) ? readFileSync(`${path}-wal`) : Buffer.alloc(0)]);
  l.close();
  try {
    const bytes = Buffer.concat([bytesBeforeClose, readFileSync(path)]);
    for (const uid of uids) {
      for (const form of [uid, uid.toLowerCase()]) assert.equal(bytes.indexOf(Buffer.from(form, 'latin1')), -1, `clear UID ${form.slice(-4)} found`);
      assert.equal(bytes.indexOf(Buffer.from(uid, 'hex')), -1, 'raw UID bytes found');
    }
    assert.ok(bytes.indexOf(Buffer.from('5E80')) >= 0, 'the masked last 4 are kept for the audit trail');
  } finally {
    t.cleanup();
  }
});

let child: ChildCommand = { args: [], cleanup: () => undefined };
before(() => {
  child = prepareCrashChild();
});
after(() => child.cleanup());

function runUntilKilled(args: string[], killAfterMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [...child.args, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    proc.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      if (!armed && out.includes('ready\n')) {
        armed = true;
        setTimeout(() => proc.kill('SIGKILL'), killAfterMs);
      }
    });
    proc.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    proc.on('error', reject);
    proc.on('exit', (code, signal) => (signal === 'SIGKILL' || code === 0 ? resolve(out) : reject(new Error(`child failed ${code}: ${err}`))));
  });
}

test('a card list update killed midway leaves the old list whole', async () => {
  const t = tempDir();
  try {
    const outcomes = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const path = t.file(`cards-${i}.db`);
      const seed = openTestLedger(path);
      seed.applyCardList({ kind: 'full', version: 1, cards: Array.from({ length: 50 }, (_, n) => ({ uid: `AA${String(n).padStart(6, '0')}`, accountId: 'old', status: 'active' as const })) });
      seed.close();
      await runUntilKilled(['cardlist', path, GATEWAY_ID, ROOM_SECRET.toString('hex')], [0, 5, 20, 60, 150, 400][i] ?? 0);
      const l = openTestLedger(path);
      try {
        assert.equal(l.integrityCheck().ok, true);
        const v = l.cardListVersion();
        const stats = l.stats();
        if (v === 1) {
          assert.equal(stats.cards, 50);
          assert.equal(l.lookupCard('AA000049')?.accountId, 'old');
        } else {
          assert.equal(v, 2);
          assert.equal(stats.cards, 20000);
          assert.equal(l.lookupCard('AA000049'), undefined);
          assert.equal(l.lookupCard('BB019999')?.accountId, 'new');
        }
        outcomes.add(v);
      } finally {
        l.close();
      }
    }
    assert.ok(outcomes.size >= 1);
  } finally {
    t.cleanup();
  }
});

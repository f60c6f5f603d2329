// The admission gate on a real ledger file: verified taps pass with their counter, replays,
// wrong keys and copies are declined with audit rows (and an alert for a copy), and no log line
// carries a full UID, the SUN text or a key. Then the same over a real pty: a type S reader's
// lines through the gate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { createLogger, silentLogger } from '../../gateway/core/log.js';
import { readerConfigSchema } from '../../gateway/readers/config-schema.js';
import { ReaderEmulator } from '../../gateway/readers/reader-emulator.js';
import { Readers } from '../../gateway/readers/readers.js';
import { SecureCardGate, routeCardTaps, type Admission, type AdmittedTap } from '../../gateway/secure-cards/index.js';
import { encodeSunUri, type SunKeySet } from '../../protocols/secure-card/index.js';
import { openTestLedger, tempDir, cardHold } from '../storage/helpers.js';
import { openPtyPair } from '../helpers/pty.js';
import { SimSecureCard } from '../../simulator/index.js';
import { waitFor } from '../readers/harness.js';
import { META_KEY_HEX, MASTER_KEY_HEX, SPEC_KEYS, SPEC_VECTORS, sunLine } from './vectors.js';

const UID = SPEC_VECTORS[0].uid;
const src = { readerId: 'W1-secure', machineId: 'W1' };

function logSink(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: dest }), text: () => lines.join('') };
}

function audit(path: string): { kind: string; reason: string | null; card_mask: string | null; detail: string | null }[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT kind, reason, card_mask, detail FROM audit ORDER BY seq').all() as { kind: string; reason: string | null; card_mask: string | null; detail: string | null }[];
  } finally {
    db.close();
  }
}

test('gate: a verified tap passes with its counter; once spent by the hold, the same and a lower message are replayed', () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  const logs = logSink();
  try {
    ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true }] });
    const gate = new SecureCardGate({ ledger, keys: () => [SPEC_KEYS], policy: { refusePlainCards: false }, logger: logs.logger });
    const tap8 = gate.admitSun({ ...src, text: sunLine(SPEC_VECTORS[1]) });
    assert.deepEqual(tap8, { admitted: true, uid: UID, sunCounter: 8, keyVersion: 1 } satisfies Admission);
    // The engine holds with the counter (that is where it is spent).
    assert.equal(ledger.hold(cardHold('a', 0, { funding: 'none', sunCounter: 8 })).ok, true);
    const again = gate.admitSun({ ...src, text: sunLine(SPEC_VECTORS[1]) });
    assert.equal(again.admitted ? 'in' : again.reason, 'replayed');
    const older = gate.admitSun({ ...src, text: sunLine(SPEC_VECTORS[0]) });
    assert.equal(older.admitted ? 'in' : older.reason, 'replayed');
    // Two admissions before either hold (two readers at once): the ledger lets one through.
    const next = encodeSunUri({ ...SPEC_KEYS, uid: UID, counter: 9 });
    assert.equal(gate.admitSun({ ...src, text: next }).admitted, true);
    assert.equal(gate.admitSun({ ...src, text: next }).admitted, true);
    assert.equal(ledger.hold(cardHold('a', 0, { funding: 'none', sunCounter: 9 })).ok, true);
    const second = ledger.hold(cardHold('a', 0, { funding: 'none', sunCounter: 9 }));
    assert.equal(second.ok ? 'ok' : second.outcome, 'replayed');
    const rows = audit(ledger.path).filter((r) => r.kind === 'decline');
    assert.deepEqual(rows.map((r) => r.reason), ['replayed', 'replayed', 'replayed']);
    assert.equal(rows[0]?.card_mask, '**********5E80');
    assert.deepEqual(gate.stats().declines.replayed, 2);
    const text = logs.text();
    assert.ok(!text.includes(UID) && !text.includes(SPEC_VECTORS[1].piccData) && !text.includes(SPEC_VECTORS[1].cmac), text);
  } finally {
    ledger.close();
    t.cleanup();
  }
});

test('gate: wrong keys, bad format, a copy on any reader, a room that refuses plain cards', () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  const logs = logSink();
  try {
    ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true }, { uid: 'DEADBEEF', accountId: 'b', status: 'active' }] });
    const otherMeta: SunKeySet = { ...SPEC_KEYS, metaKey: Buffer.alloc(16, 7) };
    const otherMaster: SunKeySet = { ...SPEC_KEYS, masterKey: Buffer.alloc(16, 7) };
    const reason = (a: Admission): string => (a.admitted ? 'in' : a.reason);
    const withKeys = (k: SunKeySet, refusePlainCards = false) => new SecureCardGate({ ledger, keys: () => [k], policy: { refusePlainCards }, logger: logs.logger });
    assert.equal(reason(withKeys(otherMeta).admitSun({ ...src, text: sunLine(SPEC_VECTORS[0]) })), 'unknown_card');
    assert.equal(reason(withKeys(otherMaster).admitSun({ ...src, text: sunLine(SPEC_VECTORS[0]) })), 'bad_mac');
    assert.equal(reason(withKeys(SPEC_KEYS).admitSun({ ...src, text: 'https://c.example/t?picc_data=12&cmac=34' })), 'bad_format');
    // A copied UID on a type L reader (or a type S UID: line): clone_suspected, and an alert upstream.
    assert.equal(reason(withKeys(SPEC_KEYS).admitPlain({ readerId: 'W2-card', machineId: 'W2', uid: UID })), 'clone_suspected');
    assert.deepEqual(withKeys(SPEC_KEYS).admitPlain({ ...src, uid: 'DEADBEEF' }), { admitted: true, uid: 'DEADBEEF', sunCounter: null, keyVersion: null });
    assert.equal(reason(withKeys(SPEC_KEYS, true).admitPlain({ ...src, uid: 'DEADBEEF' })), 'unknown_card');
    assert.equal(reason(withKeys(SPEC_KEYS, true).admitSun({ ...src, text: sunLine(SPEC_VECTORS[0]) })), 'in');
    const rows = audit(ledger.path);
    assert.deepEqual(
      rows.filter((r) => r.kind === 'decline' || r.kind === 'alert').map((r) => `${r.kind}:${r.reason ?? ''}`),
      ['decline:unknown_card', 'decline:bad_mac', 'decline:bad_format', 'decline:clone_suspected', 'alert:clone_suspected', 'decline:unknown_card'],
    );
    const alert = ledger.outbox.nextBatch({ maxCount: 100, maxBytes: 1 << 20 }).records.find((r) => r.type === 'alert');
    assert.equal((alert?.payload as { code: string; machineId: string }).code, 'clone_suspected');
    assert.equal((alert?.payload as { machineId: string }).machineId, 'W2');
    // Unverified messages name no card in the audit.
    assert.equal(rows.find((r) => r.reason === 'bad_mac')?.card_mask, null);
    const text = logs.text();
    assert.ok(!text.includes(UID), text);
    assert.ok(!text.toUpperCase().includes(META_KEY_HEX.slice(0, 10)) && !text.toUpperCase().includes(MASTER_KEY_HEX.slice(0, 10)));
  } finally {
    ledger.close();
    t.cleanup();
  }
});

test('pty: a type S reader on a socat pair gives verified taps through the gate; a replay and a copy are declined', async () => {
  const t = tempDir();
  const ledger = openTestLedger(t.file('l.db'));
  const pty = await openPtyPair();
  const readers = new Readers([readerConfigSchema.parse({ id: 'W1-secure', type: 'sun', path: pty.a, attachedTo: { machineId: 'W1' }, pollMs: 50 })], { logger: silentLogger() });
  const emu = new ReaderEmulator({ path: pty.b, type: 'sun' });
  try {
    ledger.applyCardList({ kind: 'full', version: 1, cards: [{ uid: UID, accountId: 'a', status: 'active', secure: true }] });
    const gate = new SecureCardGate({ ledger, keys: () => [SPEC_KEYS], policy: { refusePlainCards: false }, logger: silentLogger() });
    // What the daemon will do: route taps through the gate; the engine then holds with the counter.
    const admitted: AdmittedTap[] = [];
    const failed: unknown[] = [];
    routeCardTaps(readers, gate, {
      onAdmitted: (tap) => {
        admitted.push(tap);
        ledger.hold(cardHold('a', 0, { funding: 'none', cardUid: tap.uid, ...(tap.sunCounter === null ? {} : { sunCounter: tap.sunCounter }) }));
      },
      onFailed: (f) => failed.push(f.err),
    });
    // And the declines, seen from the ledger's audit.
    const declined = (): string[] => audit(ledger.path).filter((r) => r.kind === 'decline').map((r) => r.reason ?? '');
    await readers.start();
    await emu.open();
    await waitFor(() => readers.stats()[0]?.state === 'up', 'reader up');
    const card = new SimSecureCard({ uid: UID, keys: SPEC_KEYS, counter: 1 });
    const taps: string[] = [];
    for (let c = 1; c <= 5; c++) {
      taps.push(card.tap());
      await emu.present(taps[taps.length - 1] ?? '');
    }
    await emu.present(taps[2] ?? ''); // tap 3 again: a recorded message
    await emu.present(card.copyUidLine());
    await waitFor(() => admitted.length + declined().length === 7, 'seven taps');
    assert.deepEqual(admitted.map((t) => [t.uid, t.machineId, t.sunCounter]), [1, 2, 3, 4, 5].map((c) => [UID, 'W1', c]));
    assert.deepEqual(declined(), ['replayed', 'clone_suspected']);
    assert.deepEqual(failed, []);
    assert.equal(ledger.secureCardFacts(UID).roomCounter, 5);
  } finally {
    await readers.stop();
    await emu.close();
    await pty.close();
    ledger.close();
    t.cleanup();
  }
});

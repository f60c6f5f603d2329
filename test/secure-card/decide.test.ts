// The secure-card decision table, tested directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterFloor, decideTap, type SecureCardFacts } from '../../gateway/secure-cards/decide.js';
import { verifySunUri } from '../../protocols/secure-card/index.js';
import { SPEC_KEYS, SPEC_VECTORS, sunLine } from './vectors.js';

const open = { refusePlainCards: false };
const strict = { refusePlainCards: true };
const none: SecureCardFacts = { listed: null, roomCounter: null };
const listed = (o: Partial<NonNullable<SecureCardFacts['listed']>> = {}): SecureCardFacts['listed'] => ({ secure: true, fleetCounter: null, keyVersion: null, ...o });
const tap7 = { kind: 'sun' as const, verified: verifySunUri(sunLine(SPEC_VECTORS[0]), [SPEC_KEYS]) };
const tap8 = { kind: 'sun' as const, verified: verifySunUri(sunLine(SPEC_VECTORS[1]), [SPEC_KEYS]) };
const UID = SPEC_VECTORS[0].uid;

test('a verified SUN tap above every counter seen is accepted with its counter', () => {
  assert.deepEqual(decideTap(tap7, none, open), { ok: true, uid: UID, sun: { counter: 7, keyVersion: 1 } });
  assert.deepEqual(decideTap(tap7, { listed: listed(), roomCounter: 6 }, strict), { ok: true, uid: UID, sun: { counter: 7, keyVersion: 1 } });
  // Not marked secure on the list, or not listed at all: still a genuine card; the ordinary path decides the rest.
  assert.equal(decideTap(tap7, { listed: listed({ secure: false }), roomCounter: null }, open).ok, true);
});

test('the same counter, a lower one, or one the fleet has seen is replayed', () => {
  const r1 = decideTap(tap7, { listed: null, roomCounter: 7 }, open);
  assert.equal(r1.ok ? 'ok' : r1.reason, 'replayed');
  const r2 = decideTap(tap7, { listed: null, roomCounter: 8 }, open);
  assert.equal(r2.ok ? 'ok' : r2.reason, 'replayed');
  const r3 = decideTap(tap8, { listed: listed({ fleetCounter: 8 }), roomCounter: 2 }, open);
  assert.equal(r3.ok ? 'ok' : r3.reason, 'replayed');
  if (!r3.ok) assert.equal(r3.uid, UID);
  assert.equal(counterFloor({ listed: listed({ fleetCounter: 3 }), roomCounter: 5 }), 5);
  assert.equal(counterFloor(none), -1);
  // Counter 0 (a card fresh from the encoding station) is above "never seen".
  assert.equal(decideTap({ kind: 'sun', verified: { ok: true, uid: UID, counter: 0, keyVersion: 1 } }, none, open).ok, true);
});

test('verification failures pass through as the decline reason, with no UID named', () => {
  for (const reason of ['bad_format', 'unknown_card', 'bad_mac'] as const) {
    const r = decideTap({ kind: 'sun', verified: { ok: false, reason, detail: 'x' } }, none, open);
    assert.deepEqual(r, { ok: false, reason, detail: 'x', uid: null, alert: false });
  }
});

test('a message made under an older key version than the card list names is bad_mac; a newer one passes', () => {
  const r = decideTap(tap7, { listed: listed({ keyVersion: 2 }), roomCounter: null }, open);
  assert.equal(r.ok ? 'ok' : r.reason, 'bad_mac');
  const v3 = { kind: 'sun' as const, verified: { ok: true as const, uid: UID, counter: 9, keyVersion: 3 } };
  assert.equal(decideTap(v3, { listed: listed({ keyVersion: 2 }), roomCounter: 8 }, open).ok, true);
});

test('a plain read of a secure UID is clone_suspected with an alert, whatever the room policy', () => {
  for (const policy of [open, strict]) {
    assert.deepEqual(decideTap({ kind: 'plain', uid: UID }, { listed: listed(), roomCounter: 7 }, policy), {
      ok: false, reason: 'clone_suspected', detail: 'a plain UID read of a card the list marks secure', uid: UID, alert: true,
    });
  }
});

test('plain cards: accepted in an open room, unknown_card in a room that refuses them', () => {
  assert.deepEqual(decideTap({ kind: 'plain', uid: 'DEADBEEF' }, none, open), { ok: true, uid: 'DEADBEEF', sun: null });
  assert.deepEqual(decideTap({ kind: 'plain', uid: 'DEADBEEF' }, { listed: listed({ secure: false }), roomCounter: null }, open), { ok: true, uid: 'DEADBEEF', sun: null });
  const r = decideTap({ kind: 'plain', uid: 'DEADBEEF' }, { listed: listed({ secure: false }), roomCounter: null }, strict);
  assert.equal(r.ok ? 'ok' : r.reason, 'unknown_card');
  if (!r.ok) assert.equal(r.alert, false);
});

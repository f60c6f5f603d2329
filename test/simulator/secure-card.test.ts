// The simulated secure card: every tap verifies, with the next counter, and differs from the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimSecureCard } from '../../simulator/index.js';
import { verifySunUri } from '../../protocols/secure-card/index.js';
import { SPEC_KEYS, SPEC_VECTORS } from '../secure-card/vectors.js';

test('SimSecureCard: taps verify with counters 0, 1, 2, …; the copy line is its UID', () => {
  const card = new SimSecureCard({ uid: SPEC_VECTORS[0].uid, keys: SPEC_KEYS });
  const lines = [card.tap(), card.tap(), card.tap()];
  assert.deepEqual(lines.map((l) => verifySunUri(l, [SPEC_KEYS])), [0, 1, 2].map((counter) => ({ ok: true, uid: SPEC_VECTORS[0].uid, counter, keyVersion: 1 })));
  assert.equal(new Set(lines).size, 3);
  assert.equal(card.counter, 3);
  assert.equal(card.copyUidLine(), `UID:${SPEC_VECTORS[0].uid}`);
  // With the datasheet's random bytes fixed, counter 7 is the datasheet's MAC.
  const at7 = new SimSecureCard({ uid: SPEC_VECTORS[0].uid, keys: SPEC_KEYS, counter: 7, random: () => new Uint8Array(5) });
  assert.ok(at7.tap().endsWith(`&cmac=${SPEC_VECTORS[0].cmac}`));
  const worn = new SimSecureCard({ uid: SPEC_VECTORS[0].uid, keys: SPEC_KEYS, counter: 0xffffff });
  worn.tap();
  assert.throws(() => worn.tap(), /worn out/);
  assert.throws(() => new SimSecureCard({ uid: '04a2', keys: SPEC_KEYS }), /14 uppercase hex/);
});

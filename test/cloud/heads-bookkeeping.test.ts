// cloud/heads.ts, pure: which chain heads are kept and which is the newest an ack carries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headRows, mergeHeads, newerHead, pickHeads, rowConflicts } from '../../cloud/heads.js';

test('newerHead: the higher seq wins; at an equal seq the kept one stays (a second hash there is a rewrite)', () => {
  assert.deepEqual(newerHead(undefined, { seq: 1, hash: 'a' }), { seq: 1, hash: 'a' });
  assert.deepEqual(newerHead({ seq: 1, hash: 'a' }, undefined), { seq: 1, hash: 'a' });
  assert.deepEqual(newerHead({ seq: 1, hash: 'a' }, { seq: 2, hash: 'b' }), { seq: 2, hash: 'b' });
  assert.deepEqual(newerHead({ seq: 3, hash: 'c' }, { seq: 2, hash: 'b' }), { seq: 3, hash: 'c' });
  assert.deepEqual(newerHead({ seq: 3, hash: 'c' }, { seq: 3, hash: 'forged' }), { seq: 3, hash: 'c' });
});

test('mergeHeads: the newest of each chain over the kept heads and the batches, whatever their order', () => {
  const batches = [
    { gatewayId: 'g', auditHead: { seq: 9, hash: 'a9' }, moneyHead: { seq: 4, hash: 'm4' } },
    { gatewayId: 'g', auditHead: { seq: 5, hash: 'a5' } },
  ];
  assert.deepEqual(mergeHeads({}, batches), { audit: { seq: 9, hash: 'a9' }, money: { seq: 4, hash: 'm4' } });
  assert.deepEqual(mergeHeads({ money: { seq: 7, hash: 'm7' } }, batches), { audit: { seq: 9, hash: 'a9' }, money: { seq: 7, hash: 'm7' } });
  assert.deepEqual(mergeHeads({}, [{ gatewayId: 'g' }]), {});
});

test('headRows: every distinct head once (a resend repeats its heads)', () => {
  const b = { gatewayId: 'g', auditHead: { seq: 9, hash: 'a9' }, moneyHead: { seq: 4, hash: 'm4' } };
  assert.deepEqual(headRows([b, b, { gatewayId: 'h', auditHead: { seq: 9, hash: 'a9' } }]), [
    { gatewayId: 'g', chain: 'audit', seq: 9, hash: 'a9' },
    { gatewayId: 'g', chain: 'money', seq: 4, hash: 'm4' },
    { gatewayId: 'h', chain: 'audit', seq: 9, hash: 'a9' },
  ]);
});

test('pickHeads: every head with everyMs 0; else the newest of each chain when due, none when not', () => {
  const rows = [
    { gatewayId: 'g', chain: 'audit' as const, seq: 5, hash: 'a5' },
    { gatewayId: 'g', chain: 'money' as const, seq: 2, hash: 'm2' },
    { gatewayId: 'g', chain: 'audit' as const, seq: 9, hash: 'a9' },
  ];
  assert.deepEqual(pickHeads(rows, false, 0).map((h) => h.keep), [true, true, true]);
  assert.deepEqual(pickHeads(rows, true, 3_600_000).map((h) => h.keep), [false, true, true]);
  assert.deepEqual(pickHeads(rows, false, 3_600_000).map((h) => h.keep), [false, false, false]);
});

test('rowConflicts: a received head at the seq of the row\'s newest with another hash', () => {
  const kept = { audit: { seq: 9, hash: 'a9' }, money: { seq: 2, hash: 'm2' } };
  assert.deepEqual(rowConflicts(kept, [
    { gatewayId: 'g', chain: 'audit', seq: 9, hash: 'a9' },
    { gatewayId: 'g', chain: 'audit', seq: 8, hash: 'x' },
    { gatewayId: 'g', chain: 'money', seq: 2, hash: 'forged' },
  ]), [{ gatewayId: 'g', chain: 'money', seq: 2, hash: 'forged', storedHash: 'm2' }]);
});

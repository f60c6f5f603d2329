// Typed settings: a value declared once with its schema is read back typed, or as `missing` or
// `unreadable` with the reason (never a throw, never the value in the message); a bad value is
// refused before anything is written; an unchanged value is not written again. Real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { z } from 'zod';
import { defineSetting, settingOrUndefined } from '../../storage/index.js';
import { openTestLedger, withTestLedger } from './helpers.js';

const PLAN = defineSetting('test.plan', z.strictObject({ name: z.string(), slots: z.array(z.number().int()) }));
const COUNT = defineSetting('test.count', z.number().int().nonnegative());

test('a typed setting round-trips through a reopen; missing until written', () =>
  withTestLedger((first, path) => {
    assert.deepEqual(first.readSetting(PLAN), { status: 'missing' });
    assert.equal(settingOrUndefined(first.readSetting(COUNT)), undefined);
    first.writeSetting(PLAN, { name: 'night', slots: [1, 2] });
    first.writeSetting(COUNT, 7);
    first.close();
    const l = openTestLedger(path);
    assert.deepEqual(l.readSetting(PLAN), { status: 'ok', value: { name: 'night', slots: [1, 2] } });
    assert.equal(settingOrUndefined(l.readSetting(COUNT)), 7);
    // Stored as JSON under its key: a number reads the same through the key-value store.
    assert.equal(l.getNumberSetting('test.count'), 7);
    l.close();
  }));

test('an unreadable stored value is reported with its reason, not thrown, and the message quotes no value', () =>
  withTestLedger((l) => {
    l.setSetting('test.plan', 'secret-ish{');
    assert.deepEqual(l.readSetting(PLAN), { status: 'unreadable', reason: 'not_json', detail: 'setting test.plan is not JSON' });
    l.setSetting('test.plan', JSON.stringify({ name: 'x', slots: ['secret-ish'] }));
    const r = l.readSetting(PLAN);
    assert.equal(r.status, 'unreadable');
    assert.ok(r.status === 'unreadable' && r.reason === 'schema' && r.detail.startsWith('setting test.plan does not match its schema (1 issue, slots.0: '), JSON.stringify(r));
    assert.ok(!JSON.stringify(r).includes('secret-ish'));
    l.setSetting('test.plan', JSON.stringify({ name: 'x', slots: [], extra: 1 }));
    assert.equal(l.readSetting(PLAN).status, 'unreadable', 'an unknown key is an error');
    l.setSetting('test.count', 'NaN');
    assert.equal(settingOrUndefined(l.readSetting(COUNT)), undefined);
  }));

test('a value its schema refuses is not written: the stored one stays', () =>
  withTestLedger((l) => {
    l.writeSetting(COUNT, 3);
    assert.throws(() => l.writeSetting(COUNT, -1), /setting test\.count refused: 1 issue/);
    assert.throws(() => l.writeSetting(COUNT, 1.5), /setting test\.count refused/);
    assert.throws(() => l.writeSetting(PLAN, { name: 'x', slots: [Number.NaN] }), /setting test\.plan refused/);
    assert.equal(settingOrUndefined(l.readSetting(COUNT)), 3);
    assert.deepEqual(l.readSetting(PLAN), { status: 'missing' });
    assert.throws(() => defineSetting('', z.number()), 'a key is not empty');
  }));

test('a typed setting written unchanged adds nothing to the WAL; a change is written', () =>
  withTestLedger((l, path) => {
    const wal = (): number => statSync(`${path}-wal`).size;
    l.writeSetting(PLAN, { name: 'night', slots: [1, 2] });
    const written = wal();
    for (let i = 0; i < 20; i++) l.writeSetting(PLAN, { name: 'night', slots: [1, 2] });
    assert.equal(wal(), written, 'the same value 20 times added nothing to the WAL');
    l.writeSetting(PLAN, { name: 'night', slots: [1, 2, 3] });
    assert.ok(wal() > written, 'a new value is written');
  }));

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunArgs } from './run-args.js';

test('bench/torture arguments: --only, --quick, --set per module, --seed', () => {
  const a = parseRunArgs(['--only', 'crash,fuzz', '--quick', '--set', 'crash.kills=40', '--set', 'fuzz.runs=10', '--seed', '42']);
  assert.deepEqual(a.only, ['crash', 'fuzz']);
  assert.equal(a.quick, true);
  assert.equal(a.sets.get('crash')?.get('kills'), '40');
  assert.equal(a.sets.get('fuzz')?.get('runs'), '10');
  assert.equal(a.seed, 42);
});

test('bench/torture arguments: a bad one is refused with a reason', () => {
  assert.throws(() => parseRunArgs(['--frobnicate']), /unknown argument --frobnicate/);
  assert.throws(() => parseRunArgs(['--set', 'nokey']), /name\.key=value/);
  assert.throws(() => parseRunArgs(['--seed', 'x']), /integer/);
  assert.throws(() => parseRunArgs(['--only']), /needs a value/);
});

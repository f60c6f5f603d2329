// Key paths in refusals: plain keys as an operator writes them, any other key quoted, so a typo
// with a newline, dot or quote in it stays one line and cannot be misread (found by the config
// text-edit fuzz: `units[10].k<newline>d: unknown key` spread over two lines).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatKeyPath } from '../../protocols/issues.js';

test('plain keys as written; a key with a newline, space, dot, quote or bracket quoted', () => {
  assert.equal(formatKeyPath(['pricing', 'base', 0, 'priceCents']), 'pricing.base[0].priceCents');
  assert.equal(formatKeyPath(['channels', 0, 'coinsPerProgram', '1']), 'channels[0].coinsPerProgram.1');
  assert.equal(formatKeyPath(['buses', 0, 'units', 10, 'k\nd']), 'buses[0].units[10]["k\\nd"]');
  assert.equal(formatKeyPath(['risk', 'a.b']), 'risk["a.b"]');
  assert.equal(formatKeyPath(['risk', 'x y']), 'risk["x y"]');
  assert.equal(formatKeyPath(['"q"', 'z']), '["\\"q\\""].z');
  assert.equal(formatKeyPath(['']), '[""]');
});

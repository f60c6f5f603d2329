// Regression (found by the crash torture, test/torture/crash.ts, after ~70 s at time scale
// 20 000): when a coin machine's cycle ended far into a run, t + remaining rounded back to t and
// Rio8.advance looped forever on a remainder below t's resolution, freezing the whole room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rio8 } from '../../simulator/rio8.js';

test('a cycle that ends far into a run ends, whatever the rounding of the module clock', () => {
  for (let k = 0; k < 50; k++) {
    const remainingMs = 1000 + k * 0.123456789;
    const m = new Rio8({ channels: [{ coinCents: 50, coinsPerCycle: 7, cycleMinutes: 30 }], pulseScale: 20_000 }, { machines: [{ coins: 0, remainingMs, coinsLost: 0, cycles: 1 }] });
    // The module's clock after ~10 minutes at time scale 20 000: about 1.2e10 sim ms.
    Object.assign(m, { t: 1.2e10 + 0.1 + k * 0.37 });
    m.advance(5000);
    const ch = m.snapshot().channels[0];
    assert.equal(ch?.inUse, false, `case ${k}`);
    assert.equal(ch?.machine?.remainingMs, 0, `case ${k}`);
  }
});

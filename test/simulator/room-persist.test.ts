// Regression (found while building the power-cut torture, test/torture/power-cut.ts): a command
// the LW-485 executed during a read's catch-up was shown to the master at once but written to
// the state file only at the next tick, so a power cut in between lost a credit the gateway had
// already seen accepted (the spec keeps credit through a power cut). Now every request persists
// what changed before its reply leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimRoom } from '../../simulator/index.js';

test('a credit the master has seen accepted is in the state file before the reply', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-persist-'));
  try {
    const statePath = join(dir, 'room.json');
    // A tick too slow to ever come: only requests write the file.
    const room = new SimRoom({ units: [{ unit: 1, model: 'lw485-washer' }], statePath, timeScale: 1, tickMs: 3_600_000 });
    room.start();
    room.handleRequest(1, { fc: 16, address: 256, values: [1, 1, 1, 250, 0] });
    await new Promise((r) => setTimeout(r, 80));
    // Any read catches the unit up: the command's result becomes visible with it.
    room.handleRequest(1, { fc: 3, address: 256, quantity: 5 });
    assert.equal(room.control.lw485(1).lastSeq, 1);
    const file = JSON.parse(readFileSync(statePath, 'utf8')) as { units: Record<string, { state: { lastSeq: number; state: number; creditCents: number } }> };
    assert.deepEqual([file.units['1']?.state.lastSeq, file.units['1']?.state.state, file.units['1']?.state.creditCents], [1, 1, 250]);
    await room.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

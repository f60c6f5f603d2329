// The engine's timings: every delay and timeout has a default, bad values and unknown keys are
// refused, and the engine's retry timer runs on the injected Timers with the configured period.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../storage/index.js';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { loadOrCreateRoomSecret } from '../../gateway/core/room-secret.js';
import { systemTimers, type Timers } from '../../gateway/core/timers.js';
import { engineTimings, engineTimingsSchema } from '../../gateway/engine/engine-options.js';
import { machinesOf } from '../../gateway/engine/machine-access.js';
import { VendEngine } from '../../gateway/engine/vend-engine.js';
import { ROOM_ID, tempDir, testConfig } from './harness.js';

test('engine timings: defaults, overrides, and refusals with a reason', () => {
  const t = engineTimings();
  assert.equal(t.readbackDelayMs, 150);
  assert.equal(t.reconcileEveryMs, 5000);
  assert.equal(t.settleWaitMs, 10_000);
  assert.equal(t.commandWaitMs, 15_000);
  assert.equal(t.maxReadbacks, 5);
  assert.equal(engineTimings({ reconcileEveryMs: 300 }).reconcileEveryMs, 300);
  assert.throws(() => engineTimings({ readbackDelayMs: -1 }), /readbackDelayMs/);
  const unknownKey = engineTimingsSchema.safeParse({ trainSettleMs: 5 });
  assert.equal(unknownKey.success, false);
  assert.match(unknownKey.error?.message ?? '', /trainSettleMs/);
});

test('the engine retries on the injected timers, at reconcileEveryMs', async () => {
  const tmp = tempDir();
  const cfg = gatewayConfigSchema.parse(testConfig({ port: 1, dbPath: tmp.file('ledger.db') }));
  const logger = silentLogger();
  const ledger = openLedger({ path: cfg.database.path, roomSecret: loadOrCreateRoomSecret(tmp.file('room-secret')), gatewayId: ROOM_ID, bootId: 'b1', clock: systemClock, logger });
  const intervals: number[] = [];
  const cleared: NodeJS.Timeout[] = [];
  const timers: Timers = {
    ...systemTimers,
    setInterval: (fn, ms) => {
      intervals.push(ms);
      return systemTimers.setInterval(fn, ms);
    },
    clearInterval: (t) => {
      cleared.push(t);
      systemTimers.clearInterval(t);
    },
  };
  const engine = new VendEngine({ roomId: ROOM_ID, ledger, machines: machinesOf([]), pricing: cfg.pricing, risk: cfg.risk, exposure: (a) => ledger.unsyncedExposure(a), logger, clock: systemClock, timers, timings: { reconcileEveryMs: 1234 } });
  try {
    await engine.start();
    assert.deepEqual(intervals, [1234]);
    await engine.stop();
    assert.equal(cleared.length, 1);
  } finally {
    ledger.close();
    tmp.cleanup();
  }
});

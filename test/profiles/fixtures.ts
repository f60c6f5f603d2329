// Shared set-up for the profile tests against the simulator: a room, a SimBus over it, and a
// unit discovered through its profile exactly as the poller does it.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import type { UnitConfig } from '../../gateway/profiles/config-schema.js';
import { UnitIo } from '../../gateway/profiles/io.js';
import { profileOptions, type ProfileOptionsInput } from '../../gateway/profiles/options.js';
import { bindProfile } from '../../gateway/profiles/registry.js';
import type { UnitDriver } from '../../gateway/profiles/types.js';
import type { BusClient } from '../../gateway/bus/types.js';

export async function discover(bus: BusClient, cfg: UnitConfig, opts: ProfileOptionsInput = {}, previous: UnitDriver | null = null): Promise<UnitDriver> {
  const r = await bindProfile(cfg).discover({ io: new UnitIo(bus, cfg.unit), logger: silentLogger(), clock: systemClock, options: profileOptions(opts) }, previous);
  assert.ok(r.ok, r.ok ? '' : r.failure.detail);
  return r.driver;
}

/** Waits for a condition with a generous deadline; never a fixed sleep standing in for a check. */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

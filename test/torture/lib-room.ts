// What the crash and power-cut scenarios share about the room: the uplink block of the gateway
// child's config (short timers, so a killed gateway's batch goes again within a second), the
// room config the cloud signs, and a small seeded random source.
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { testConfig } from '../engine/harness.js';

export function childMqttConfig(url: string, configPublicKey: string): MqttConfigInput {
  return {
    url,
    configPublicKey,
    keepaliveSec: 5,
    connectTimeoutMs: 2000,
    reconnect: { minMs: 50, maxMs: 500, stableMs: 1000 },
    batch: { maxWaitMs: 30, ackTimeoutMs: 1000, ackTimeoutMaxMs: 2000, pollMs: 100 },
    healthIntervalSec: 3600,
  };
}

/** The body of signed room config `version`: the test room's prices under a new version name, risk opened wide. */
export function cloudRoomConfig(version: number): Record<string, unknown> {
  const base = testConfig({ port: 1, dbPath: '/unused' });
  return {
    version,
    issuedAtSec: Math.floor(Date.now() / 1000),
    pricing: { ...base.pricing, version: `cloud-${version}` },
    risk: base.risk,
  };
}

export { seededRandom } from './lib-rng.js';

export const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

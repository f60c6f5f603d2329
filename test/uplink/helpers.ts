// Shared set-up for the uplink tests: a real ledger file, a real Mosquitto, the reference cloud
// consumer, and an Uplink with test-sized timeouts. Waits poll for conditions with generous
// deadlines; nothing asserts on elapsed time.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { mqttConfigSchema, type MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { Uplink, type UplinkOptions } from '../../gateway/uplink/uplink.js';
import { rawPublicKeyOf } from '../../protocols/qr-token/cose.js';
import { openLedger, type Ledger } from '../../storage/index.js';
import { CloudConsumer, type CloudConsumerOptions } from '../../simulator/cloud/consumer.js';
import { slow } from '../helpers/slowdown.js';

export const ROOM = 'room-1';

export async function waitFor(cond: () => boolean, what: string, ms = slow(20_000)): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export function tempDir(memory = false): { dir: string; file(name: string): string; cleanup(): void } {
  const base = memory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'uplink-'));
  return { dir, file: (n) => join(dir, n), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testLedger(path: string, gatewayId = ROOM): Ledger {
  return openLedger({ path, roomSecret: Buffer.alloc(32, 7), gatewayId, bootId: randomUUID(), clock: systemClock, logger: silentLogger() });
}

export function cloudKeys(): { privateKey: KeyObject; publicB64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicB64: Buffer.from(rawPublicKeyOf(publicKey)).toString('base64url') };
}

/**
 * Test-sized timeouts: resends after 400 ms, reconnects within 50–400 ms. The ack and connect
 * timeouts are stretched under emulation (slow()): an ack later than 400 ms there is the
 * emulator, and a resend of every batch would fail the tests that count none.
 */
export function testConfig(url: string, over: Partial<MqttConfigInput> = {}) {
  return mqttConfigSchema.parse({
    url,
    batch: { ackTimeoutMs: slow(400), ackTimeoutMaxMs: slow(1500), maxWaitMs: 20, pollMs: 50, ...over.batch },
    reconnect: { minMs: 50, maxMs: 400, stableMs: 1000, ...over.reconnect },
    healthIntervalSec: 1,
    connectTimeoutMs: slow(2000),
    ...Object.fromEntries(Object.entries(over).filter(([k]) => k !== 'batch' && k !== 'reconnect')),
  });
}

export function makeUplink(ledger: Ledger, url: string, over: Partial<UplinkOptions> = {}, cfg: Partial<MqttConfigInput> = {}): Uplink {
  return new Uplink({ config: testConfig(url, cfg), roomId: ROOM, ledger, logger: silentLogger(), clock: systemClock, ...over });
}

export async function makeConsumer(url: string, dbPath: string, over: Partial<CloudConsumerOptions> = {}): Promise<CloudConsumer> {
  const c = new CloudConsumer({ url, dbPath, ...over });
  await c.start();
  return c;
}

/** Enqueues n numbered events, as vends would (non-money: the ledger's event API). */
export function enqueue(ledger: Ledger, n: number, from = 0): void {
  for (let i = 0; i < n; i++) ledger.enqueueEvent('test.vend', { n: from + i });
}

/** The consumer stored exactly the ledger's seqs 1..n once each, in order, with the right payloads. */
export function storedInOrder(c: CloudConsumer, n: number): boolean {
  const recs = c.records(ROOM);
  return recs.length === n && recs.every((r, i) => r.seq === i + 1 && (r.payload as { n: number }).n === i);
}

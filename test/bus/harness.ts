// Shared set-up for the wire tests: a bus master on a real transport, and condition waits with
// generous deadlines (never fixed sleeps, never assertions on elapsed time). The reply timeout
// defaults to 1 s here so a loaded CI machine does not turn a slow answer into a failure;
// tests about timeouts hold the reply back instead of racing timers.
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../gateway/core/log.js';
import { systemClock, type Clock } from '../../gateway/core/clock.js';
import { BusMaster } from '../../gateway/bus/bus-master.js';
import type { BusMasterOptions } from '../../gateway/bus/options.js';
import { SerialTransport } from '../../gateway/bus/serial-transport.js';
import { TcpTransport } from '../../gateway/bus/tcp-transport.js';

export async function waitFor(cond: () => boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Real time plus an offset the test can jump: the breaker's probe wait is skipped on demand
 * rather than raced against on a loaded machine.
 */
export class SkipClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  monotonic(): number {
    return performance.now() + this.offset;
  }
  skip(ms: number): void {
    this.offset += ms;
  }
}

export async function serialBus(path: string, opts: Partial<BusMasterOptions> = {}, clock: Clock = systemClock): Promise<BusMaster> {
  const logger = silentLogger();
  const transport = new SerialTransport({ path, baudRate: 19200, parity: 'even', stopBits: 1, watchIntervalMs: 50, reopenInitialMs: 50, reopenMaxMs: 400 }, { logger });
  const bus = new BusMaster(transport, { busId: 'test-serial', line: { baudRate: 19200, parity: 'even' }, replyTimeoutMs: 1000, ...opts }, { logger, clock });
  bus.start();
  await waitFor(() => transport.isUp, 10_000, 'serial transport up');
  return bus;
}

export async function tcpBus(port: number, framing: 'rtu' | 'mbap', opts: Partial<BusMasterOptions> = {}, clock: Clock = systemClock): Promise<BusMaster> {
  const logger = silentLogger();
  const transport = new TcpTransport({ host: '127.0.0.1', port, reconnectInitialMs: 50, reconnectMaxMs: 400 }, { logger });
  const bus = new BusMaster(transport, { busId: `test-tcp-${framing}`, framing, replyTimeoutMs: 1000, ...opts }, { logger, clock });
  bus.start();
  await waitFor(() => transport.isUp, 10_000, 'tcp transport up');
  return bus;
}

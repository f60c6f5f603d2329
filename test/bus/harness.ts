// Shared set-up for the wire tests: a bus master on a real transport, and condition waits with
// generous deadlines (never fixed sleeps, never assertions on elapsed time).
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../gateway/core/log.js';
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

export async function serialBus(path: string, opts: Partial<BusMasterOptions> = {}): Promise<BusMaster> {
  const logger = silentLogger();
  const transport = new SerialTransport({ path, baudRate: 19200, parity: 'even', stopBits: 1, watchIntervalMs: 50, reopenInitialMs: 50, reopenMaxMs: 400 }, { logger });
  const bus = new BusMaster(transport, { busId: 'test-serial', line: { baudRate: 19200, parity: 'even' }, ...opts }, { logger });
  bus.start();
  await waitFor(() => transport.isUp, 10_000, 'serial transport up');
  return bus;
}

export async function tcpBus(port: number, framing: 'rtu' | 'mbap', opts: Partial<BusMasterOptions> = {}): Promise<BusMaster> {
  const logger = silentLogger();
  const transport = new TcpTransport({ host: '127.0.0.1', port, reconnectInitialMs: 50, reconnectMaxMs: 400 }, { logger });
  const bus = new BusMaster(transport, { busId: `test-tcp-${framing}`, framing, ...opts }, { logger });
  bus.start();
  await waitFor(() => transport.isUp, 10_000, 'tcp transport up');
  return bus;
}

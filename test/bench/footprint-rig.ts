// The footprint bench's rig: the simulated room counting what it answers, on the two transports
// the bench compares (Modbus TCP on loopback; RTU on a serial pty, as a USB RS-485 adapter on a
// Pi), and the floors measured beside the daemon: a bare Node idling (memory) and a bare Node
// doing only the bus's I/O (CPU).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom, type SimUnitConfig } from '../../simulator/index.js';
import { listenTcp, type TcpEndpoint } from '../../simulator/tcp-server.js';
import { SerialLine } from '../../simulator/serial-line.js';
import type { SlaveTarget } from '../../simulator/rtu-slave.js';
import { encodeRtuRequest, rtuReplyLength } from '../../protocols/modbus/rtu.js';
import { t35, type LineFormat } from '../../protocols/modbus/timing.js';
import { silentLogger } from '../../gateway/core/log.js';
import { openPtyPair, type PtyPair } from '../helpers/pty.js';
import { CLOCK_TICKS_PER_S, cpuTicks, median, rssKb } from './lib-proc.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const UNIT_COUNT = 32;
export const UNITS = Array.from({ length: UNIT_COUNT }, (_, i) => i + 1);
/** Units above this are dryers: a room is mostly washers. */
export const LAST_WASHER = 24;
/** The LW-485 status block, as the daemon's profile reads it (gateway/profiles/lw485-codec.ts). */
export const STATUS = { fc: 4, address: 16, quantity: 14 } as const;
export const POLL_MS = 1000;
/** Generous for both masters: the simulator shares 2 cores with the master under test. */
export const REPLY_TIMEOUT_MS = 1000;
/**
 * The serial line: 38400 8E1, the LW-485's fastest rate, so 32 units fit in a second with the
 * controller's 5 ms turnaround (at 19200 the wire alone takes ~0.9 s: section 1). The simulator
 * paces its replies to their time on this line; a pty itself has no baud rate.
 */
export const SERIAL_LINE: LineFormat = { baudRate: 38400, dataBits: 8, parity: 'even', stopBits: 1 };

export type BenchTransport = 'tcp' | 'serial';

export interface CountingSim {
  /** TCP port of the Modbus TCP (MBAP) endpoint. */
  port: number;
  /** The pty end the master opens (RTU on the serial line). */
  serialPath: string;
  /** Status-block reads answered per unit since the last reset. */
  statusReads: Map<number, number>;
  otherRequests: number;
  reset(): void;
  close(): Promise<void>;
}

/** One simulated room behind both endpoints; only one master polls at a time. */
export async function startSim(): Promise<CountingSim> {
  const units: SimUnitConfig[] = UNITS.map((unit) => ({ unit, model: unit <= LAST_WASHER ? 'lw485-washer' : 'lw485-dryer' }));
  const room = new SimRoom({ units, timeScale: 1, logger: silentLogger() });
  room.start();
  const statusReads = new Map<number, number>();
  let pty: PtyPair | null = null;
  let line: SerialLine | null = null;
  let endpoint: TcpEndpoint | null = null;
  const sim: CountingSim = {
    port: 0,
    serialPath: '',
    statusReads,
    otherRequests: 0,
    reset: () => {
      statusReads.clear();
      sim.otherRequests = 0;
    },
    close: async () => {
      await endpoint?.close();
      await line?.close();
      await pty?.close();
      await room.close();
    },
  };
  const counting: SlaveTarget = {
    serve: (unit, pdu) => {
      const plan = room.serve(unit, pdu);
      if (plan !== null) {
        const isStatus = pdu.length === 5 && pdu[0] === STATUS.fc && pdu.readUInt16BE(1) === STATUS.address && pdu.readUInt16BE(3) === STATUS.quantity;
        if (isStatus) statusReads.set(unit, (statusReads.get(unit) ?? 0) + 1);
        else sim.otherRequests++;
      }
      return plan;
    },
  };
  try {
    endpoint = await listenTcp(counting, { host: '127.0.0.1', port: 0, framing: 'mbap' }, silentLogger());
    sim.port = endpoint.port;
    pty = await openPtyPair();
    line = new SerialLine(counting, { path: pty.b, baudRate: SERIAL_LINE.baudRate, parity: SERIAL_LINE.parity, stopBits: SERIAL_LINE.stopBits }, silentLogger(), SERIAL_LINE);
    await line.start();
    sim.serialPath = pty.a;
  } catch (e) {
    await sim.close();
    throw e;
  }
  return sim;
}

/** A bare Node idling (a timer keeps it alive): its RSS and anonymous RSS, medians over `seconds`. */
export async function bareNodeRss(node: string, seconds: number): Promise<{ rssMb: number; anonMb: number }> {
  const child = spawn(node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(2000);
    const rss: number[] = [];
    const anon: number[] = [];
    for (let i = 0; i < seconds; i++) {
      const r = rssKb(child.pid ?? -1);
      rss.push(r.rss / 1024);
      anon.push(r.anon / 1024);
      await sleep(1000);
    }
    return { rssMb: median(rss), anonMb: median(anon) };
  } finally {
    child.kill('SIGKILL');
  }
}

/**
 * The floor under the CPU target over loopback TCP: a bare Node doing only the bus's I/O, the
 * same 32 status reads a second with one request in flight and a reply timer per request, as the
 * daemon's bus master does, and nothing else (no decoding, no state, no ledger, no web server).
 */
const BARE_TCP_MASTER = `
const net = require('node:net');
const [port, units] = process.argv.slice(1).map(Number);
const s = net.connect(port, '127.0.0.1', async () => {
  s.setNoDelay(true);
  let tid = 0;
  for (;;) {
    const t0 = Date.now();
    for (let u = 1; u <= units; u++) {
      tid = (tid + 1) & 0xffff;
      const req = Buffer.from([tid >> 8, tid & 0xff, 0, 0, 0, 6, u, ${STATUS.fc}, 0, ${STATUS.address}, 0, ${STATUS.quantity}]);
      await new Promise((resolve) => {
        const timer = setTimeout(() => { s.off('data', onData); resolve(); }, ${REPLY_TIMEOUT_MS});
        function onData() { clearTimeout(timer); s.off('data', onData); resolve(); }
        s.on('data', onData);
        s.write(req);
      });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, ${POLL_MS} - (Date.now() - t0))));
  }
});
s.on('error', () => process.exit(1));
`;

/**
 * The same floor on the serial line: RTU frames through serialport, as the daemon's serial
 * transport writes them (write, then tcdrain before the reply timer starts), the reply taken
 * once its whole length has arrived, t3.5 of silence kept before each request. What any correct
 * Node master on an RS-485 adapter must do at least.
 */
const BARE_SERIAL_MASTER = `
const { SerialPort } = require('serialport');
const [path, baudRate, frames, replyBytes, gapMs] = process.argv.slice(1);
const requests = frames.split(',').map((h) => Buffer.from(h, 'hex'));
const port = new SerialPort({ path, baudRate: Number(baudRate), dataBits: 8, parity: '${SERIAL_LINE.parity}', stopBits: ${SERIAL_LINE.stopBits}, lock: true }, async (err) => {
  if (err) process.exit(1);
  let last = 0;
  for (;;) {
    const t0 = Date.now();
    for (const req of requests) {
      const wait = last + Number(gapMs) - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, Math.ceil(wait)));
      await new Promise((resolve) => {
        let got = 0;
        let timer = null;
        function done() { if (timer) clearTimeout(timer); port.off('data', onData); last = performance.now(); resolve(); }
        function onData(chunk) { got += chunk.length; if (got >= Number(replyBytes)) done(); }
        port.on('data', onData);
        port.write(req, () => port.drain(() => { if (got < Number(replyBytes)) timer = setTimeout(done, ${REPLY_TIMEOUT_MS}); }));
      });
    }
    await new Promise((r) => setTimeout(r, Math.max(0, ${POLL_MS} - (Date.now() - t0))));
  }
});
port.on('error', () => process.exit(1));
`;

function bareMasterArgs(transport: BenchTransport, sim: CountingSim): string[] {
  if (transport === 'tcp') return ['-e', BARE_TCP_MASTER, String(sim.port), String(UNIT_COUNT)];
  const request = { fc: STATUS.fc, address: STATUS.address, quantity: STATUS.quantity };
  const frames = UNITS.map((u) => encodeRtuRequest(u, request).toString('hex')).join(',');
  return ['-e', BARE_SERIAL_MASTER, sim.serialPath, String(SERIAL_LINE.baudRate), frames, String(rtuReplyLength(request)), String(t35(SERIAL_LINE) * 1000)];
}

/** CPU of the bare master over `transport`, % of a core, over `seconds` after a 5 s start. */
export async function bareMasterCpu(node: string, nodeFlags: readonly string[], transport: BenchTransport, sim: CountingSim, seconds: number): Promise<{ cpuPct: number; readsPerS: number }> {
  // cwd: the repository, so the serial floor's require('serialport') finds the daemon's own copy
  const child = spawn(node, [...nodeFlags, ...bareMasterArgs(transport, sim)], { stdio: 'ignore', cwd: ROOT });
  try {
    await sleep(5000);
    const pid = child.pid ?? -1;
    sim.reset();
    const c0 = cpuTicks(pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const windowS = (performance.now() - t0) / 1000;
    const reads = [...sim.statusReads.values()].reduce((a, b) => a + b, 0);
    if (child.exitCode !== null) throw new Error(`the bare ${transport} master exited (${child.exitCode})`);
    return { cpuPct: ((cpuTicks(pid) - c0) / CLOCK_TICKS_PER_S / windowS) * 100, readsPerS: reads / windowS };
  } finally {
    child.kill('SIGKILL');
  }
}

// Floods (issue 13): the real daemon (`bin/laundry-gateway.mjs run`, the demo room simulated over
// TCP, a line card reader on a pty) under each flood the issue names, one after the other:
//   control-pipeline  100 000 status requests written on one control connection, answers unread
//   control-idle      12 idle control connections (cap 8), then the CLI's status
//   web-half-open     1 100 TCP connections to the status page from 40 loopback addresses, sending nothing
//   web-brute-force   wrong operator tokens from 20 addresses, then the right one from another
// For each: peak RSS (VmRSS) and open fds of the daemon, sampled every 100 ms from /proc; the CLI's
// status round trip during the flood; that the poll loop went on (machines' observedAt moved);
// and for the first, a card vend on W1 during the flood (captured). The unit's MemoryMax is 384 MB
// and LimitNOFILE 2048: the targets.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { controlRequest } from '../../gateway/control/client.js';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { startGateway, type Gateway } from '../cli/harness.js';
import { numParam } from '../torture/types.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';

const MEMORY_MAX_MB = 384;
const LIMIT_NOFILE = 2048;

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}
const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

class Sampler {
  peakRss = 0;
  peakFds = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 100);
  }
  private sample(): void {
    try {
      this.peakRss = Math.max(this.peakRss, rssMb(this.pid));
      this.peakFds = Math.max(this.peakFds, fds(this.pid));
    } catch {
      // the process is gone: the figures say so by what they missed
    }
  }
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

async function lastObserved(gw: Gateway): Promise<number> {
  const r = await controlRequest({ socketPath: gw.socketPath, timeoutMs: 10_000 }, { cmd: 'machines' });
  if (r.kind !== 'ok') return Number.NaN;
  return Math.max(...r.result.machines.map((m) => m.observedAt ?? 0));
}

async function statusRoundTrip(gw: Gateway): Promise<number> {
  const t0 = performance.now();
  const r = await controlRequest({ socketPath: gw.socketPath, timeoutMs: 10_000 }, { cmd: 'status' });
  return r.kind === 'ok' ? performance.now() - t0 : Number.NaN;
}

function connect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function httpStatus(port: number, path: string, o: { from?: string; token?: string; body?: unknown } = {}): Promise<number> {
  return new Promise((resolve) => {
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent: false, localAddress: o.from ?? '127.0.0.1', headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

interface FloodOutcome {
  name: string;
  peakRss: number;
  peakFds: number;
  statusMs: number;
  pollMoved: boolean;
  extra: string;
}

async function during(gw: Gateway, name: string, flood: () => Promise<string>): Promise<FloodOutcome> {
  const pid = gw.child.pid ?? 0;
  const sampler = new Sampler(pid);
  const before = await lastObserved(gw);
  const extra = await flood();
  const statusMs = await statusRoundTrip(gw);
  await sleep(1500);
  const after = await lastObserved(gw);
  sampler.stop();
  return { name, peakRss: sampler.peakRss, peakFds: sampler.peakFds, statusMs, pollMoved: after > before, extra };
}

const flood: BenchModule = {
  name: 'flood',
  title: 'the daemon under control-socket and status-page floods: peak RSS and fds, the CLI, the poll loop and a vend',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const requests = numParam(opts, 'requests', 100_000, 20_000);
    const halfOpen = numParam(opts, 'halfOpen', 1100, 1100);
    const gw = await startGateway({ readyTimeoutMs: 180_000 });
    const pid = gw.child.pid ?? 0;
    const webPort = Number(/"url":"http:\/\/[^"]*:(\d+)\//.exec(gw.logs())?.[1] ?? 0);
    const baseRss = rssMb(pid);
    const baseFds = fds(pid);
    const outcomes: FloodOutcome[] = [];
    try {
      opts.log(`daemon pid ${pid}, status page port ${webPort}, ${baseRss.toFixed(0)} MB, ${baseFds} fds at rest`);

      outcomes.push(
        await during(gw, `control: ${requests} pipelined requests, answers unread`, async () => {
          const s = await connect(gw.socketPath);
          s.on('error', () => undefined);
          s.pause();
          s.write(Array.from({ length: requests }, (_, i) => `{"id":${i},"cmd":"status"}\n`).join(''));
          await sleep(3000);
          gw.swipe(DEMO_CARDS[0].uid);
          let vend = 'no vend result within 20 s';
          const until = Date.now() + 20_000;
          while (Date.now() < until) {
            const m = /"msg":"vend (captured|declined|failed)[^"]*"/.exec(gw.logs());
            if (m) {
              vend = `vend during the flood: ${m[1] ?? '?'}`;
              break;
            }
            await sleep(100);
          }
          // then read every answer: all of them arrive
          let n = 0;
          s.setEncoding('utf8');
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, 300_000);
            s.on('data', (d: string) => {
              for (const ch of d) if (ch === '\n') n++;
              if (n >= requests) {
                clearTimeout(t);
                resolve();
              }
            });
            s.resume();
          });
          s.destroy();
          return `${vend}; ${n} of ${requests} answers read afterwards`;
        }),
      );

      const idle: Socket[] = [];
      outcomes.push(
        await during(gw, 'control: 12 idle connections (cap 8)', async () => {
          for (let i = 0; i < 12; i++) {
            const s = await connect(gw.socketPath);
            s.on('error', () => undefined);
            idle.push(s);
          }
          const ok = await Promise.all([0, 1, 2].map(() => statusRoundTrip(gw)));
          return `3 CLI status beside them: ${ok.map((ms) => (Number.isNaN(ms) ? 'FAILED' : `${ms.toFixed(0)} ms`)).join(', ')}`;
        }),
      );
      for (const s of idle) s.destroy();

      const sockets: Socket[] = [];
      outcomes.push(
        await during(gw, `web: ${halfOpen} half-open connections from 40 addresses`, async () => {
          for (let i = 0; i < halfOpen; i++) {
            const s = createConnection({ host: '127.0.0.1', port: webPort, localAddress: `127.0.7.${1 + (i % 40)}` });
            s.on('error', () => undefined);
            sockets.push(s);
          }
          await sleep(4000);
          const codes = await Promise.all([0, 1, 2].map(() => httpStatus(webPort, '/api/status')));
          return `/api/status during it: ${codes.join(', ')}`;
        }),
      );
      for (const s of sockets) s.destroy();

      outcomes.push(
        await during(gw, 'web: wrong tokens from 20 addresses (11 each)', async () => {
          for (let a = 1; a <= 20; a++) for (let i = 0; i < 11; i++) await httpStatus(webPort, '/api/actions/block-card', { from: `127.0.8.${a}`, token: `wrong-${i}-xxxxxxxxxxxxxxxx`, body: { uid: '0011223344' } });
          const locked = await httpStatus(webPort, '/api/actions/block-card', { from: '127.0.8.1', token: 'demo-operator-token-0001', body: { uid: '0011223344' } });
          const right = await httpStatus(webPort, '/api/actions/block-card', { from: '127.0.9.1', token: 'demo-operator-token-0001', body: { uid: '0011223344' } });
          return `right token from an attacking address: ${locked}; from a clean one: ${right}`;
        }),
      );
    } finally {
      await gw.close();
    }
    const figures: Figure[] = [
      { label: 'at rest: RSS', value: baseRss, unit: 'MB' },
      { label: 'at rest: open fds', value: baseFds, unit: 'fds' },
    ];
    const notes: string[] = [];
    for (const o of outcomes) {
      figures.push(
        { label: `${o.name}: peak RSS`, value: o.peakRss, unit: 'MB', target: `< ${MEMORY_MAX_MB} MB (MemoryMax)`, pass: o.peakRss > 0 && o.peakRss < MEMORY_MAX_MB },
        { label: `${o.name}: peak open fds`, value: o.peakFds, unit: 'fds', target: `< ${LIMIT_NOFILE} (LimitNOFILE)`, pass: o.peakFds > 0 && o.peakFds < LIMIT_NOFILE },
        { label: `${o.name}: CLI status round trip`, value: o.statusMs, unit: 'ms', target: 'answers', pass: !Number.isNaN(o.statusMs) },
      );
      notes.push(`${o.name}: poll loop ${o.pollMoved ? 'went on' : 'DID NOT move'}; ${o.extra}`);
    }
    return { name: 'flood', figures, notes };
  },
};

export default flood;

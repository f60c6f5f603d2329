// Issue 8, item 5: start-up, from process start to the first complete poll cycle, cold. The real
// daemon is spawned as the systemd unit starts it (`node bin/laundry-gateway.mjs run --config`)
// against 32 LW-485 units that the simulator, in this process, serves on a socat pty. The end
// is the moment the simulator has answered every unit's status block once: discovery done and
// one full cycle polled. Each start gets a fresh ledger and, for the tsx path, an empty TMPDIR
// (tsx's compile cache lives there, and the unit's PrivateTmp=yes gives every start an empty
// /tmp: under systemd the TypeScript was compiled again at each start). Two ways are measured:
// the bin as the unit runs it (compiled dist/ when built and current, else tsx) and the sources
// through tsx, as the bin ran them before it preferred dist/.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { SimRoom, type ReplyPlan, type SimUnitConfig } from '../../simulator/index.js';
import { openPtyPair } from '../helpers/pty.js';
import { artifactsDir } from './lib-vend.js';
import { loadNote, median, numParam, round } from './lib-stats.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';
import { buildBundle, unitNodeFlags } from './lib-bundle.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin/laundry-gateway.mjs');
const DIST_MAIN = join(ROOT, 'dist/gateway/cli/main.js');
const TS_MAIN = join(ROOT, 'gateway/cli/main.ts');
const LINE = { baudRate: 19200, dataBits: 8, parity: 'even', stopBits: 1 } as const;
const STATUS_PDU = Buffer.from([4, 0, 16, 0, 14]);

interface Variant {
  id: string;
  label: string;
  args: string[];
  /** A fresh TMPDIR per start (tsx's cache), as under the unit's PrivateTmp. */
  freshTmp: boolean;
}

function writeConfig(dir: string, busPath: string, units: number): string {
  const demo = demoGatewayConfig({ tcpPort: 1, dbPath: join(dir, 'ledger.db'), qrPublicKey: Buffer.alloc(32, 7).toString('base64url') });
  const config = {
    room: { id: 'bench-room' },
    database: { path: join(dir, 'ledger.db') },
    buses: [
      {
        id: 'bus1',
        transport: { type: 'serial', path: busPath, baudRate: LINE.baudRate, parity: LINE.parity },
        pollIntervalMs: 1000,
        replyTimeoutMs: 100,
        units: Array.from({ length: units }, (_, i) => ({ unit: i + 1, profile: 'lw485', machineId: `M${i + 1}`, kind: i % 3 === 2 ? 'dryer' : 'washer' })),
      },
    ],
    pricing: demo.pricing,
    web: { host: '127.0.0.1', port: 0 },
    control: { socketPath: join(dir, 'control.sock') },
    log: { level: 'info' },
  };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** One cold start: seconds from spawn to the last unit's first status read, or null on failure. */
async function oneStart(v: Variant, units: number, paced: boolean, log: (l: string) => void): Promise<{ seconds: number; discoverySeconds: number; ranTsx: boolean } | { error: string }> {
  const tmp = artifactsDir('bench-startup-');
  const pty = await openPtyPair();
  const simUnits: SimUnitConfig[] = Array.from({ length: units }, (_, i) => ({ unit: i + 1, model: i % 3 === 2 ? 'lw485-dryer' : 'lw485-washer' }));
  const room = new SimRoom({ units: simUnits, timeScale: 1, replyDelayMs: paced ? 5 : 0, ...(paced ? { paceBaud: LINE } : {}) });
  room.start();
  const firstAnswer = new Map<number, number>();
  const firstStatus = new Map<number, number>();
  let done: (() => void) | null = null;
  const serve = room.serve.bind(room);
  room.serve = (unit: number, pdu: Buffer): ReplyPlan | null => {
    const t = performance.now();
    if (!firstAnswer.has(unit)) firstAnswer.set(unit, t);
    if (pdu.equals(STATUS_PDU) && !firstStatus.has(unit)) {
      firstStatus.set(unit, t);
      if (firstStatus.size === units) done?.();
    }
    return serve(unit, pdu);
  };
  try {
    await room.attachSerial({ path: pty.b, baudRate: LINE.baudRate, parity: LINE.parity, stopBits: LINE.stopBits });
    const config = writeConfig(tmp.dir, pty.a, units);
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production' };
    if (v.freshTmp) {
      const t = join(tmp.dir, 'tmp');
      mkdirSync(t);
      env.TMPDIR = t;
    }
    delete env.NODE_OPTIONS;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const t0 = performance.now();
    const child = spawn(process.execPath, [...v.args, 'run', '--config', config], { cwd: tmp.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const startedAtMs = Date.now();
    let stdout = '';
    child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
    let stderr = '';
    child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const r = await Promise.race([finished.then(() => 'ok' as const), exited.then(() => 'exit' as const), sleep(30_000, 'timeout' as const)]);
    const end = Math.max(...firstStatus.values());
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (r !== 'ok') return { error: `${r}: ${firstStatus.size}/${units} units polled; ${stderr.slice(0, 300)}` };
    const firstByte = Math.min(...firstAnswer.values());
    if (process.env.BENCH_STARTUP_LOG) {
      // The daemon's own log lines against the spawn time, to see where a start spends its time.
      for (const line of stdout.split('\n')) {
        const m = /"time":(\d+).*"msg":"([^"]*)"/.exec(line);
        if (m) log(`  +${Number(m[1]) - startedAtMs} ms ${m[2] ?? ''}`);
      }
    }
    log(`startup: ${v.id}${paced ? ' paced' : ''}: ${((end - t0) / 1000).toFixed(3)} s (first request answered at ${((firstByte - t0) / 1000).toFixed(3)} s)`);
    // The bin says so on stderr when it falls back from a stale dist/ to tsx.
    return { seconds: (end - t0) / 1000, discoverySeconds: (firstByte - t0) / 1000, ranTsx: stderr.includes('through tsx') };
  } finally {
    await room.close();
    await pty.close();
    tmp.cleanup();
  }
}

/** Median seconds for node itself to start and exit: how slow this machine is right now. */
async function bareNodeStart(n: number): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < Math.max(3, n); i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => resolve()));
    xs.push((performance.now() - t0) / 1000);
  }
  return median(xs);
}

async function run(opts: BenchOptions): Promise<BenchResult> {
  const starts = numParam(opts, 'starts', 5, 2);
  const units = numParam(opts, 'units', 32, 32);
  const prof = process.env.BENCH_STARTUP_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_STARTUP_PROF}`] : [];
  const built = existsSync(DIST_MAIN);
  // What the package installs and its unit runs: the one bundled file, with the unit's flags.
  const bundleDir = mkdtempSync(join(tmpdir(), 'bench-startup-bundle-'));
  const bundle = await buildBundle(bundleDir, opts.log);
  const variants: Variant[] = [
    { id: 'bundle', label: `the package's bundled file as the unit runs it (${['node', ...unitNodeFlags()].join(' ')})`, args: [...prof, ...unitNodeFlags(), bundle], freshTmp: true },
    { id: 'bin', label: 'bin/laundry-gateway.mjs from a checkout', args: [...prof, BIN], freshTmp: true },
    ...(built ? [{ id: 'dist', label: 'compiled dist/gateway/cli/main.js', args: [DIST_MAIN], freshTmp: true }] : []),
    // What the bin did before it preferred dist/, and still does without a build.
    { id: 'tsx', label: 'the TypeScript through tsx, empty compile cache', args: ['--import', 'tsx', TS_MAIN], freshTmp: true },
  ];
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const v of variants) {
    for (const paced of [false, true]) {
      if (paced && (opts.quick || v.id !== 'bundle')) continue;
      const xs: number[] = [];
      const firsts: number[] = [];
      let tsxStarts = 0;
      for (let i = 0; i < starts; i++) {
        const r = await oneStart(v, units, paced, opts.log);
        if ('error' in r) {
          notes.push(`${v.id}: a start failed: ${r.error}`);
          continue;
        }
        xs.push(r.seconds);
        firsts.push(r.discoverySeconds);
        if (r.ranTsx) tsxStarts++;
      }
      if (xs.length === 0) continue;
      const m = median(xs);
      if (v.id === 'bin') notes.push(`bin: ${tsxStarts} of ${xs.length} ${paced ? 'paced ' : ''}starts ran the TypeScript through tsx (${built ? 'dist/ older than a source: rebuild with npm run build' : 'no dist/'}), the others the compiled dist/`);
      if (!paced) {
        figures.push({
          label: `start → first full poll cycle, ${v.label} (median of ${xs.length})`,
          value: round(m),
          unit: 's',
          ...(v.id === 'bundle' ? { target: '≤ 1 s', pass: m <= 1 } : {}),
        });
        figures.push({ label: `start → first bus request answered, ${v.label}`, value: round(median(firsts)), unit: 's' });
      } else {
        figures.push({ label: `same, line paced at 19200 8E1 + 5 ms turnaround (discovery + a cycle on the wire)`, value: round(m), unit: 's' });
      }
    }
  }
  rmSync(bundleDir, { recursive: true, force: true });
  if (!built) notes.push('no dist/: the bin ran the TypeScript through tsx; `npm run build` first to measure what the unit runs after a build');
  const bare = await bareNodeStart(starts);
  figures.push({ label: 'bare `node -e 0` start and exit on this machine now (load reference)', value: round(bare), unit: 's' });
  notes.push(
    `${units} LW-485 units on a socat pty; the simulator answers at once (no line pacing) for the figure with the target, so it is the daemon's own start-up; a fresh ledger and an empty TMPDIR each start`,
    `the end is where the simulator serves the last unit's first status-block read (discovery of all ${units} units, then one full cycle)`,
    loadNote(),
  );
  return { name: 'startup', figures, notes };
}

const bench: BenchModule = { name: 'startup', title: 'Start-up to the first complete poll cycle', run };
export default bench;

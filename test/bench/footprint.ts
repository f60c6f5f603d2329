// Footprint (issue 8, item 4): resident memory and CPU of the daemon polling 32 LW-485 units at
// 1 Hz, idle otherwise, and of Node-RED with node-red-contrib-modbus doing the same poll, one
// after the other in the same run, against the same simulator over the same transport.
//
// - Transports, one after the other (`--set footprint.transport=tcp|serial`, default both): RTU
//   on a socat pty pair at 38400 8E1, the simulator's replies paced to the line, as a USB RS-485
//   adapter on a Pi (the CPU and memory targets are read against this one); and Modbus TCP (MBAP)
//   on loopback, which both masters speak natively (the daemon's `framing: "mbap"`, the
//   contrib's tcpType DEFAULT): Node-RED is measured over it only. Beside each, a bare Node doing
//   only the same bus I/O on the same transport: the CPU floor of any Node master there.
// - Heap allocation: test/bench/alloc-probe.mjs preloaded into the daemon (`footprint.alloc=0`
//   leaves it out).
// - The daemon is the real one, as the Debian package runs it: the single bundled file
//   (scripts/package/bundle.mjs) `run --config <file>` with the unit's Node flags (`--set
//   footprint.entry=bin`: bin/laundry-gateway.mjs, i.e. dist/ or tsx), 32 units on one bus, no
//   readers, no MQTT, the status page on loopback (it cannot be switched off), log level info,
//   its stdout to a file (journald's place on a Pi).
// - Node-RED: one modbus-client, 32 modbus-read nodes (fc 4, registers 16-29, every 1000 ms),
//   editor and admin API off, its stdout to a file.
// - Reads achieved are counted AT THE SIMULATOR: status-block reads answered, per unit, over the
//   measured window. Both masters are counted the same way.
// - RSS (VmRSS) is sampled once a second from /proc over the window; CPU is utime+stime from
//   /proc/<pid>/stat across the window, both summed over the process and any descendants. The
//   window starts after every unit has been read once and a warm-up has passed.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { GatewayConfigInput } from '../../gateway/config/schema.js';
import { numParam } from '../torture/types.js';
import { ensureNodeRed, CONTRIB_MODBUS_VERSION, NODE_RED_VERSION, type NodeRedInstall } from './node-red/install.js';
import { pollFlow } from './node-red/flow.js';
import { settingsJs } from './node-red/settings.js';
import type { BenchModule, BenchOptions, BenchResult, Figure } from './types.js';
import { buildBundle, unitNodeFlags } from './lib-bundle.js';
import { CLOCK_TICKS_PER_S, median, processTree, treeCpuTicks, treeRssKb } from './lib-proc.js';
import {
  bareMasterCpu,
  bareNodeRss,
  LAST_WASHER,
  POLL_MS,
  REPLY_TIMEOUT_MS,
  SERIAL_LINE,
  STATUS,
  startSim,
  UNIT_COUNT,
  UNITS,
  type BenchTransport,
  type CountingSim,
} from './footprint-rig.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'laundry-gateway.mjs');

const RSS_TARGET_MB = 80;
/** Issue 16 (was 1 % in issue 8). */
const CPU_TARGET_PCT = 0.5;
/** Issue 16: the daemon's own share, RSS less a bare `node -e` idling on the same Node. */
const SHARE_TARGET_MB = 20;
const RSS_RATIO_TARGET = 0.5;
/** Preloaded into the daemon: the bytes its heap allocates (test/bench/alloc-probe.mjs). */
const ALLOC_PROBE = join(ROOT, 'test', 'bench', 'alloc-probe.mjs');

// ---- one measured run -----------------------------------------------------------------------------

interface Phase {
  label: string;
  processes: number;
  startupS: number;
  rssMedianMb: number;
  rssMaxMb: number;
  anonMedianMb: number;
  cpuPct: number;
  readsPerS: number;
  slowestUnitReadsPerS: number;
  otherRequests: number;
  /** The bench process (simulator) CPU over the window, % of a core: context for machine load. */
  simCpuPct: number;
  load: string;
  /** Bytes the heap allocated per second over the window (alloc-probe.mjs), null when not probed. */
  allocBytesPerS: number | null;
}

interface Started {
  child: ChildProcess;
  exited: Promise<void>;
  logFile: string;
  /** The file alloc-probe.mjs writes its running total to, when it was preloaded. */
  allocFile?: string;
}

/** The probe's last running total: bytes allocated, at (ms since the epoch). */
function lastAlloc(file: string | undefined): { at: number; bytes: number } | null {
  if (file === undefined || !existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const last = lines[lines.length - 1];
  if (last === undefined || last === '') return null;
  const v = JSON.parse(last) as { at: number; bytes: number };
  return { at: v.at, bytes: v.bytes };
}

function spawnLogged(cmd: string, args: string[], cwd: string, logFile: string, env: NodeJS.ProcessEnv): Started {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, logFile };
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

async function stop(s: Started): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  s.child.kill('SIGTERM');
  const done = await Promise.race([s.exited.then(() => true), sleep(15_000).then(() => false)]);
  if (!done) {
    s.child.kill('SIGKILL');
    await s.exited;
  }
}

async function measure(label: string, sim: CountingSim, start: () => Started, o: { warmupS: number; durationS: number; log: (l: string) => void }): Promise<Phase> {
  sim.reset();
  const t0 = performance.now();
  const s = start();
  let dead = false;
  void s.exited.then(() => (dead = true));
  try {
    const pid = s.child.pid;
    if (pid === undefined) throw new Error(`${label} did not start`);
    // polling has begun once every unit's status block has been read
    const until = performance.now() + 90_000;
    while (sim.statusReads.size < UNIT_COUNT) {
      if (dead) throw new Error(`${label} exited during start-up:\n${tail(s.logFile)}`);
      if (performance.now() > until) throw new Error(`${label} did not poll all ${UNIT_COUNT} units within 90 s (${sim.statusReads.size} so far):\n${tail(s.logFile)}`);
      await sleep(50);
    }
    const startupS = (performance.now() - t0) / 1000;
    o.log(`${label}: polling all units ${startupS.toFixed(1)} s after spawn; warm-up ${o.warmupS} s, then ${o.durationS} s measured`);
    await sleep(o.warmupS * 1000);

    const tree = processTree(pid);
    sim.reset();
    const alloc0 = lastAlloc(s.allocFile);
    const simCpu0 = process.cpuUsage();
    const cpu0 = treeCpuTicks(pid);
    const w0 = performance.now();
    const rss: number[] = [];
    const anon: number[] = [];
    const end = w0 + o.durationS * 1000;
    for (let next = w0; next < end; next += 1000) {
      await sleep(Math.max(0, next - performance.now()));
      if (dead) throw new Error(`${label} exited during the measurement:\n${tail(s.logFile)}`);
      const m = treeRssKb(pid);
      rss.push(m.rss / 1024);
      anon.push(m.anon / 1024);
    }
    await sleep(Math.max(0, end - performance.now()));
    const cpu1 = treeCpuTicks(pid);
    const simCpu = process.cpuUsage(simCpu0);
    const alloc1 = lastAlloc(s.allocFile);
    const windowS = (performance.now() - w0) / 1000;
    const reads = [...UNITS].map((u) => sim.statusReads.get(u) ?? 0);
    const total = reads.reduce((a, b) => a + b, 0);
    const [l1, l5] = loadavg();
    return {
      label,
      processes: tree.length,
      startupS,
      rssMedianMb: median(rss),
      rssMaxMb: Math.max(...rss),
      anonMedianMb: median(anon),
      cpuPct: ((cpu1 - cpu0) / CLOCK_TICKS_PER_S / windowS) * 100,
      readsPerS: total / windowS,
      slowestUnitReadsPerS: Math.min(...reads) / windowS,
      otherRequests: sim.otherRequests,
      simCpuPct: ((simCpu.user + simCpu.system) / 1e6 / windowS) * 100,
      load: `load ${(l1 ?? 0).toFixed(2)} / ${(l5 ?? 0).toFixed(2)} (1/5 min) on ${cpus().length} cores`,
      allocBytesPerS: alloc0 !== null && alloc1 !== null && alloc1.at > alloc0.at ? (alloc1.bytes - alloc0.bytes) / ((alloc1.at - alloc0.at) / 1000) : null,
    };
  } finally {
    await stop(s);
  }
}

// ---- the two contenders -----------------------------------------------------------------------------

function daemonConfig(dir: string, transport: BenchTransport, sim: CountingSim): GatewayConfigInput & { control: { socketPath: string } } {
  return {
    room: { id: 'bench-footprint', name: 'footprint bench' },
    database: { path: join(dir, 'ledger.db') },
    buses: [
      {
        id: 'bus1',
        transport:
          transport === 'tcp'
            ? { type: 'tcp', host: '127.0.0.1', port: sim.port, framing: 'mbap' }
            : { type: 'serial', path: sim.serialPath, baudRate: SERIAL_LINE.baudRate, parity: SERIAL_LINE.parity, stopBits: SERIAL_LINE.stopBits },
        pollIntervalMs: POLL_MS,
        replyTimeoutMs: REPLY_TIMEOUT_MS,
        units: UNITS.map((unit) => ({ unit, profile: 'lw485' as const, machineId: `${unit <= LAST_WASHER ? 'W' : 'D'}${unit}`, kind: unit <= LAST_WASHER ? ('washer' as const) : ('dryer' as const) })),
      },
    ],
    readers: [],
    pricing: {
      version: 'bench-1',
      timeZone: 'UTC',
      base: [
        { id: 'w', kind: 'washer', program: 1, priceCents: 250 },
        { id: 'd', kind: 'dryer', program: 1, stepMinutes: 10, stepCents: 100, minSteps: 3, maxSteps: 6 },
      ],
    },
    web: { host: '127.0.0.1', port: 0 },
    control: { socketPath: join(dir, 'control.sock') },
    log: { level: 'info' },
  };
}

interface DaemonRun {
  transport: BenchTransport;
  nodeFlags: readonly string[];
  extraEnv: Record<string, string>;
  /** Preload alloc-probe.mjs (one GC callback, one line per 5 s). */
  probe: boolean;
}

function startDaemon(entry: string, dir: string, sim: CountingSim, run: DaemonRun): Started {
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(daemonConfig(dir, run.transport, sim), null, 2));
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LOG_LEVEL;
  delete env.NODE_OPTIONS;
  Object.assign(env, run.extraEnv);
  const allocFile = join(dir, 'alloc.jsonl');
  const probe = run.probe ? ['--import', ALLOC_PROBE] : [];
  if (run.probe) env.LGW_ALLOC_PROBE = allocFile;
  const started = spawnLogged(process.execPath, [...run.nodeFlags, ...probe, entry, 'run', '--config', configPath], ROOT, join(dir, 'daemon.log'), env);
  return run.probe ? { ...started, allocFile } : started;
}

/**
 * The same daemon compiled by tsc (`tsconfig.build.json`) and run without tsx: what the tsx
 * loader (a module-hooks worker thread with its own heap, plus source maps) costs. Built into a
 * temporary folder beside a node_modules link, so the repository's dist/ is left alone.
 */
async function buildCompiled(dir: string, log: (l: string) => void): Promise<string> {
  const out = join(dir, 'compiled');
  mkdirSync(out, { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  writeFileSync(join(out, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  log('compiling the daemon with tsc for the compiled variant');
  await new Promise<void>((resolve, reject) => {
    // type errors (another part mid-edit) do not stop tsc from emitting: only a missing file matters
    const p = spawn(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(out, 'dist'), '--sourceMap', 'false'], { cwd: ROOT, stdio: 'ignore' });
    p.once('error', reject);
    p.once('exit', () => resolve());
  });
  const main = join(out, 'dist', 'gateway', 'cli', 'main.js');
  if (!existsSync(main)) throw new Error(`tsc did not emit ${main}`);
  return main;
}

function startCompiled(main: string, dir: string, sim: CountingSim): Started {
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify(daemonConfig(dir, 'tcp', sim), null, 2));
  const env = { ...process.env };
  delete env.LOG_LEVEL;
  delete env.NODE_OPTIONS;
  return spawnLogged(process.execPath, [main, 'run', '--config', configPath], ROOT, join(dir, 'daemon.log'), env);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startNodeRed(dir: string, simPort: number, nr: NodeRedInstall, parallelUnits: boolean): Promise<() => Started> {
  const userDir = join(dir, 'node-red');
  const flows = pollFlow({ host: '127.0.0.1', port: simPort, units: UNITS, fc: STATUS.fc, address: STATUS.address, quantity: STATUS.quantity, rateMs: POLL_MS, timeoutMs: REPLY_TIMEOUT_MS, parallelUnits });
  mkdirSync(userDir, { recursive: true });
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows, null, 2));
  const settings = join(userDir, 'settings.js');
  writeFileSync(settings, settingsJs({ userDir, flowFile: 'flows.json', port: await freePort() }));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return () => spawnLogged(nr.node, [nr.redJs, '--settings', settings, '--userDir', userDir], userDir, join(dir, 'node-red.log'), env);
}

// ---- the benchmark ------------------------------------------------------------------------------------

const mb = (v: number): number => Math.round(v * 10) / 10;

function phaseFigures(p: Phase, withTargets: boolean): Figure[] {
  const who = p.label;
  const target = (f: Figure, t: string, pass: boolean): Figure => (withTargets ? { ...f, target: t, pass } : f);
  const figures: Figure[] = [
    target({ label: `${who}: RSS median`, value: mb(p.rssMedianMb), unit: 'MiB' }, `≤ ${RSS_TARGET_MB} MiB`, p.rssMedianMb <= RSS_TARGET_MB),
    target({ label: `${who}: RSS max`, value: mb(p.rssMaxMb), unit: 'MiB' }, `≤ ${RSS_TARGET_MB} MiB`, p.rssMaxMb <= RSS_TARGET_MB),
    { label: `${who}: anonymous RSS median (RSS less the node binary's pages)`, value: mb(p.anonMedianMb), unit: 'MiB' },
    target({ label: `${who}: CPU, % of one core`, value: Math.round(p.cpuPct * 100) / 100, unit: '%' }, `≤ ${CPU_TARGET_PCT} %`, p.cpuPct <= CPU_TARGET_PCT),
    { label: `${who}: status reads achieved (${UNIT_COUNT}/s requested)`, value: Math.round(p.readsPerS * 100) / 100, unit: 'reads/s' },
    { label: `${who}: slowest unit (1/s requested)`, value: Math.round(p.slowestUnitReadsPerS * 1000) / 1000, unit: 'reads/s' },
  ];
  if (p.allocBytesPerS !== null) {
    figures.push(
      { label: `${who}: heap allocation rate`, value: Math.round(p.allocBytesPerS / 100) / 10, unit: 'KB/s' },
      { label: `${who}: heap allocation per status read`, value: p.readsPerS > 0 ? Math.round(p.allocBytesPerS / p.readsPerS / 10) / 100 : 0, unit: 'KB' },
    );
  }
  return figures;
}

function phaseNote(p: Phase): string {
  return `${p.label}: ${p.processes} process(es) measured, polling ${p.startupS.toFixed(1)} s after spawn, ${p.otherRequests} other requests in the window (discovery, command results), simulator+bench used ${p.simCpuPct.toFixed(1)} % of a core, ${p.load}`;
}

const footprint: BenchModule = {
  name: 'footprint',
  title: 'Footprint: RSS and CPU polling 32 units at 1 Hz, against Node-RED',
  async run(opts: BenchOptions): Promise<BenchResult> {
    const durationS = numParam(opts, 'duration', 300, 20);
    const warmupS = numParam(opts, 'warmup', 15, 10);
    const skipNodeRed = opts.params.get('nodeRed') === 'skip';
    const compiled = numParam(opts, 'compiled', 0, 0) === 1;
    const parallelUnits = numParam(opts, 'nodeRedParallel', 1, 1) === 1;
    const probe = numParam(opts, 'alloc', 1, 1) === 1;
    // --set footprint.transport=tcp|serial: one of the two (default both, serial first)
    const transportParam = opts.params.get('transport') ?? 'both';
    if (!['both', 'tcp', 'serial'].includes(transportParam)) throw new Error(`footprint.transport=${transportParam}: tcp, serial or both`);
    const transports: BenchTransport[] = transportParam === 'both' ? ['serial', 'tcp'] : [transportParam === 'tcp' ? 'tcp' : 'serial'];
    const notes: string[] = [];
    const figures: Figure[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'lgw-fp-'));
    const sim = await startSim();
    try {
      notes.push(
        `${UNIT_COUNT} LW-485 units (${LAST_WASHER} washers, ${UNIT_COUNT - LAST_WASHER} dryers) in the simulator, ${transports.map((t) => (t === 'tcp' ? 'Modbus TCP (MBAP) on loopback' : `RTU on a socat pty pair at ${SERIAL_LINE.baudRate} 8E1 (the simulator paces its replies to the line, 5 ms turnaround)`)).join(', then ')}, status block fc 4 registers 16-29 every ${POLL_MS} ms per unit, reply timeout ${REPLY_TIMEOUT_MS} ms; warm-up ${warmupS} s, window ${durationS} s each, run one after the other`,
      );
      notes.push(`daemon: \`run\` on Node ${process.version}, no readers, no MQTT, status page on 127.0.0.1 (ephemeral port), log level info to a file`);

      let nr: NodeRedInstall | null = null;
      let nrProblem: string | null = skipNodeRed ? 'skipped (--set footprint.nodeRed=skip)' : null;
      if (!skipNodeRed) {
        try {
          nr = await ensureNodeRed(opts.log);
          notes.push(`Node-RED ${NODE_RED_VERSION} + node-red-contrib-modbus ${CONTRIB_MODBUS_VERSION} on Node ${nr.nodeVersion.slice(1)}, from ${nr.prefix}; install: ${nr.commands.join(' && ')}${nr.ran.length === 0 ? ' (already in the cache)' : ''}`);
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          if (!opts.quick) throw new Error(`Node-RED could not be installed, so the comparison cannot run: ${why}`);
          nrProblem = `NOT MEASURED: Node-RED could not be installed (${why.split('\n')[0] ?? why})`;
        }
      }

      // --set footprint.nodeFlags="--max-semi-space-size=1 ...": Node/V8 flags for the daemon.
      // Default: the unit's own (ExecStart); --set footprint.nodeFlags=none for none.
      const flagParam = opts.params.get('nodeFlags');
      const nodeFlags = flagParam === undefined ? unitNodeFlags() : flagParam === 'none' ? [] : flagParam.split(/\s+/).filter((f) => f !== '');
      notes.push(`daemon started with Node flags: ${nodeFlags.length > 0 ? nodeFlags.join(' ') : 'none'}${flagParam === undefined ? ' (as the unit, systemd/laundry-gateway.service)' : ''}`);
      // --set footprint.env="MALLOC_ARENA_MAX=2 ...": environment variables for the daemon.
      const extraEnv = Object.fromEntries((opts.params.get('env') ?? '').split(/\s+/).filter((f) => f.includes('=')).map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)]));
      if (Object.keys(extraEnv).length > 0) notes.push(`daemon started with: ${Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`).join(' ')}`);
      // --set footprint.entry=bin: bin/laundry-gateway.mjs (dist/, or tsx without a current build)
      // instead of the package's bundle.
      const fromBin = opts.params.get('entry') === 'bin';
      const entry = fromBin ? BIN : await buildBundle(dir, opts.log);
      if (probe) notes.push('heap allocation: test/bench/alloc-probe.mjs preloaded into the daemon (V8 GC profiler: used heap before each collection less after the one before; one callback per GC, one line per 5 s); --set footprint.alloc=0 runs without it');

      // The Pi's transport carries the targets: a USB RS-485 adapter, not loopback TCP (whose
      // delivery to the simulator the kernel charges to the writer). TCP stays as context.
      const targetOn: BenchTransport = transports.includes('serial') ? 'serial' : 'tcp';
      const floorS = Math.min(60, durationS);
      let firstDaemon: Phase | null = null;
      let tcpDaemon: Phase | null = null;
      for (const transport of transports) {
        const label = `daemon over ${transport === 'tcp' ? 'loopback TCP' : 'a serial pty'}`;
        const run: DaemonRun = { transport, nodeFlags, extraEnv, probe };
        const ours = await measure(label, sim, () => startDaemon(entry, join(dir, `daemon-${transport}`), sim, run), { warmupS, durationS, log: opts.log });
        const allocText = ours.allocBytesPerS === null ? '' : `, ${(ours.allocBytesPerS / 1000).toFixed(1)} KB/s allocated`;
        opts.log(`${label}: RSS median ${ours.rssMedianMb.toFixed(1)} MiB, max ${ours.rssMaxMb.toFixed(1)} MiB, CPU ${ours.cpuPct.toFixed(2)} %, ${ours.readsPerS.toFixed(2)} reads/s${allocText}`);
        figures.push(...phaseFigures(ours, transport === targetOn));
        notes.push(phaseNote(ours));
        firstDaemon ??= ours;
        if (transport === 'tcp') tcpDaemon = ours;
        const floor = await bareMasterCpu(process.execPath, nodeFlags, transport, sim, floorS);
        opts.log(`bare Node master over ${transport}: CPU ${floor.cpuPct.toFixed(2)} %, ${floor.readsPerS.toFixed(2)} reads/s`);
        figures.push(
          { label: `bare Node doing only the bus I/O over ${transport === 'tcp' ? 'loopback TCP' : 'the serial pty'} (32 reads/s, one in flight): CPU`, value: Math.round(floor.cpuPct * 100) / 100, unit: '%' },
          { label: `daemon − bare Node master over ${transport}: the daemon's own CPU`, value: Math.round((ours.cpuPct - floor.cpuPct) * 100) / 100, unit: '%' },
        );
        notes.push(
          `bare Node master over ${transport} (the floor): the same ${UNIT_COUNT} reads/s${transport === 'serial' ? ' as RTU frames through serialport, write + tcdrain, t3.5 kept' : ''}, one in flight, a reply timer each, nothing else; same Node flags; ${floorS} s window, ${floor.readsPerS.toFixed(1)} reads/s, load ${(loadavg()[0] ?? 0).toFixed(2)}`,
        );
      }
      // Node's own floor on this machine: what any Node program costs before it does anything.
      const bare = await bareNodeRss(process.execPath, Math.min(10, durationS));
      figures.push({ label: 'bare `node -e` idling (the same Node): RSS median', value: mb(bare.rssMb), unit: 'MiB' }, { label: 'bare `node -e`: anonymous RSS median', value: mb(bare.anonMb), unit: 'MiB' });
      if (firstDaemon !== null) {
        const shareMb = firstDaemon.rssMedianMb - bare.rssMb;
        figures.push(
          { label: `daemon's own share: RSS median − bare Node's (${firstDaemon.label})`, value: mb(shareMb), unit: 'MiB', target: `≤ ${SHARE_TARGET_MB} MiB`, pass: shareMb <= SHARE_TARGET_MB },
          { label: "daemon's own share of anonymous memory", value: mb(firstDaemon.anonMedianMb - bare.anonMb), unit: 'MiB' },
        );
      }
      // The bin runs dist/ when it is built and current (npm run bench builds it), else tsx and,
      // when dist/ is stale, says so on stderr: name the path that was measured.
      const firstLog = join(dir, `daemon-${transports[0] ?? 'tcp'}`, 'daemon.log');
      const ranCompiled = existsSync(join(ROOT, 'dist', 'gateway', 'cli', 'main.js')) && existsSync(firstLog) && !readFileSync(firstLog, 'utf8').includes('through tsx');
      notes.push(
        `daemon ran ${!fromBin ? "the package's single bundled file (scripts/package/bundle.mjs; --set footprint.entry=bin for bin/laundry-gateway.mjs)" : ranCompiled ? 'the compiled dist/ through bin/laundry-gateway.mjs' : 'the TypeScript sources through tsx (no current dist/: run npm run build)'}`,
      );

      if (compiled) {
        const cDir = join(dir, 'compiled-run');
        mkdirSync(cDir, { recursive: true });
        const main = await buildCompiled(dir, opts.log);
        const c = await measure('daemon compiled (no tsx)', sim, () => startCompiled(main, cDir, sim), { warmupS, durationS, log: opts.log });
        opts.log(`daemon compiled: RSS median ${c.rssMedianMb.toFixed(1)} MiB, max ${c.rssMaxMb.toFixed(1)} MiB, CPU ${c.cpuPct.toFixed(2)} %, ${c.readsPerS.toFixed(2)} reads/s`);
        figures.push(...phaseFigures(c, false));
        notes.push(phaseNote(c));
      }

      // Node-RED's contrib speaks Modbus TCP here: it is compared with the daemon over TCP only
      const ours = tcpDaemon;
      if (nr !== null && ours !== null) {
        const startNr = await startNodeRed(dir, sim.port, nr, parallelUnits);
        const theirs = await measure('Node-RED', sim, startNr, { warmupS, durationS, log: opts.log });
        opts.log(`Node-RED: RSS median ${theirs.rssMedianMb.toFixed(1)} MiB, max ${theirs.rssMaxMb.toFixed(1)} MiB, CPU ${theirs.cpuPct.toFixed(2)} %, ${theirs.readsPerS.toFixed(2)} reads/s`);
        figures.push(...phaseFigures(theirs, false));
        const ratio = ours.rssMedianMb / theirs.rssMedianMb;
        figures.push({ label: 'anonymous RSS median, daemon / Node-RED', value: Math.round((ours.anonMedianMb / theirs.anonMedianMb) * 1000) / 1000, unit: 'ratio' });
        figures.push({ label: 'RSS median, daemon / Node-RED', value: Math.round(ratio * 1000) / 1000, unit: 'ratio', target: `≤ ${RSS_RATIO_TARGET}`, pass: ratio <= RSS_RATIO_TARGET });
        figures.push({ label: 'RSS max, daemon / Node-RED', value: Math.round((ours.rssMaxMb / theirs.rssMaxMb) * 1000) / 1000, unit: 'ratio' });
        figures.push({ label: 'CPU, daemon / Node-RED', value: Math.round((ours.cpuPct / theirs.cpuPct) * 1000) / 1000, unit: 'ratio' });
        notes.push(phaseNote(theirs));
        notes.push(
          `Node-RED flow: one modbus-client (tcp, DEFAULT = MBAP, queue on, commandDelay 1 ms, parallelUnitIdsAllowed ${String(parallelUnits)}: ${parallelUnits ? "the contrib's TCP default, up to one request in flight per unit, 32 at once; the daemon keeps ONE in flight, as an RS-485 line needs (--set footprint.nodeRedParallel=0 makes Node-RED do the same)" : 'one request in flight, like the daemon'}), one modbus-read per unit, outputs unwired (no decoding, no debug), editor and admin API off`,
        );
      } else {
        notes.push(`Node-RED: ${nrProblem ?? 'not run'}`);
      }
      notes.push(`machine: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}; other work on the machine is not stopped (see the load figures)`);
      notes.push('RSS is VmRSS summed over the process tree, sampled each second in the window (MiB); CPU is utime+stime over the window / wall time; reads counted at the simulator');
    } finally {
      await sim.close();
      rmSync(dir, { recursive: true, force: true });
    }
    return { name: 'footprint', figures, notes };
  },
};

export default footprint;

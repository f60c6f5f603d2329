// The rig's child processes: gateway hosts (IPC, one command at a time) and ingest workers (the
// real `cloud/main.ts ingest`, SIGKILL-able), and each one's peak memory from /proc.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { CloudConfig } from '../../cloud/config.js';
import type { HostCommand, HostReply, HostStats } from './protocol.js';

const HOST = fileURLToPath(new URL('./host.ts', import.meta.url));
const CLOUD_MAIN = fileURLToPath(new URL('../../cloud/main.ts', import.meta.url));

/** Peak resident memory of a process (VmHWM), bytes; 0 when it cannot be read. */
export function peakRss(pid: number | null | undefined): number {
  if (pid == null) return 0;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m?.[1] === undefined ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

export class HostProc {
  private readonly child: ChildProcess;
  private queue: Promise<unknown> = Promise.resolve();
  private stderr = '';

  constructor() {
    this.child = fork(HOST, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
  }

  get pid(): number | null {
    return this.child.pid ?? null;
  }

  /** Sends one command and waits for its reply (commands to one host run one after the other). */
  send(cmd: HostCommand): Promise<HostReply> {
    const run = (): Promise<HostReply> =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`gateway host exited (${code}) during ${cmd.cmd}: ${this.stderr.slice(-1500)}`));
        this.child.once('exit', onExit);
        this.child.once('message', (r: HostReply) => {
          this.child.off('exit', onExit);
          if (r.ok) resolve(r);
          else reject(new Error(`gateway host ${cmd.cmd}: ${r.error}`));
        });
        this.child.send(cmd);
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The process's nice value (0-19); lowering it again needs root: then it stays where it is. */
  setPriority(nice: number): void {
    if (this.child.pid === undefined) return;
    try {
      setPriority(this.child.pid, nice);
    } catch {
      // EACCES: not root (only raising nice is allowed); the measured spans freeze hosts anyway
    }
  }

  /** SIGSTOP: the host's gateways hold their connections and do nothing (their CPU out of a measured span). */
  freeze(): void {
    this.child.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (this.frozen) this.child.kill('SIGCONT');
    this.frozen = false;
  }

  private frozen = false;

  async stats(): Promise<HostStats> {
    const r = await this.send({ cmd: 'stats' });
    if (!r.ok || r.stats === undefined) throw new Error('gateway host sent no stats');
    return r.stats;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    this.thaw();
    await this.send({ cmd: 'stop' }).catch(() => undefined);
    this.child.disconnect();
    await new Promise<void>((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', () => r())));
  }
}

/** The node flags a worker runs with (docs/cloud.md). */
export const WORKER_NODE_FLAGS = ['--max-semi-space-size=16'];

export class WorkerProc {
  private child: ChildProcess | null = null;
  private log = '';
  /** Peak memory of every run of this worker. */
  maxRss = 0;
  /** Exits nobody asked for (a crash), with the log tail: the rig reports them as failures. */
  readonly crashes: string[] = [];
  private expectExit = false;
  /** The `cloud/main.ts` this worker runs from its next start: this checkout's, or another's (npm run fleet -- --compare). */
  cloudMain = CLOUD_MAIN;

  constructor(
    readonly name: string,
    /** The broker URL this worker reads from. */
    readonly brokerUrl: string,
    private readonly configPath: string,
    cfg: CloudConfig,
  ) {
    writeFileSync(configPath, JSON.stringify(cfg));
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  start(): void {
    if (this.child) return;
    const extra = process.env.FLEET_WORKER_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
    // As docs/cloud.md runs a worker: a 16 MiB young generation, so a pending batch is not
    // copied out of it by a scavenge before its commit (GC was 29 % of a worker's burst CPU).
    const c = spawn(process.execPath, [...WORKER_NODE_FLAGS, ...extra, '--import', 'tsx', this.cloudMain, 'ingest', '--config', this.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (d: Buffer): void => {
      this.log = (this.log + d.toString()).slice(-8000);
      if (process.env.FLEET_WORKER_LOG_FILE) appendFileSync(`${process.env.FLEET_WORKER_LOG_FILE}.${this.name}`, d);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    c.on('exit', (code, signal) => {
      if (this.child === c) this.child = null;
      if (!this.expectExit) this.crashes.push(`worker ${this.name} exited by itself (${code ?? signal}): ${this.log.slice(-1500)}`);
      this.expectExit = false;
    });
    this.child = c;
  }

  /** Waits until the worker logged that it runs (subscribed). */
  async ready(timeoutMs = 300_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.log.includes('ingest worker running')) {
      if (this.child === null) throw new Error(`worker ${this.name} exited: ${this.log.slice(-1500)}`);
      if (Date.now() > until) throw new Error(`worker ${this.name} not ready: ${this.log.slice(-1500)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGSTOP: the worker holds its connections but reads nothing (the cloud stalled); thaw() goes on. */
  freeze(): void {
    this.child?.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (this.frozen) this.child?.kill('SIGCONT');
    this.frozen = false;
  }

  private frozen = false;

  sample(): void {
    this.maxRss = Math.max(this.maxRss, peakRss(this.pid));
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (c === null) return;
    this.sample();
    this.thaw();
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    this.expectExit = true;
    c.kill(signal);
    await exited;
    this.child = null;
    this.log = '';
  }

  logTail(): string {
    return this.log.slice(-2000);
  }
}

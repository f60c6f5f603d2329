// Spawning the gateway child (crash-child.ts) and talking to it over stdio. A child is spawned
// ahead of time and waits for "go <port>": module loading overlaps the parent's checks.
import { spawn } from 'node:child_process';
import type { ChildCommand } from '../engine/child.js';

export interface GatewayChild {
  go(simPort: number): void;
  vend(): void;
  /** One line of the child's stdin protocol (seams-child.ts). */
  send(line: string): void;
  kill(): void;
  /** The blocked machines the child printed once started (empty string: none). */
  ready: Promise<string>;
  exited: Promise<void>;
  lines(): string[];
  stderr(): string;
}

export interface ChildArgs {
  dbPath: string;
  seed: number;
  mqttUrl: string;
  configPublicKey: string;
}

export function spawnGateway(cmd: ChildCommand, args: ChildArgs | Record<string, string | number>): GatewayChild {
  const proc = spawn(process.execPath, [...cmd.args, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: ((line: string) => void) | null = null;
  let onFail: ((e: Error) => void) | null = null;
  const ready = new Promise<string>((resolve, reject) => {
    onReady = resolve;
    onFail = reject;
  });
  ready.catch(() => undefined);
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    const m = /^ready(.*)$/m.exec(out);
    if (m && onReady) {
      onReady(m[1]?.trim() ?? '');
      onReady = null;
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (s: string) => {
    // Bounded: a chatty child must not grow the parent without limit.
    err = (err + s).slice(-2_000_000);
  });
  // A child killed while the parent writes to it: EPIPE is expected, never fatal.
  proc.stdin.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => {
    proc.on('error', (e) => {
      onFail?.(e);
      resolve();
    });
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && onFail) onFail(new Error(`child ended by itself (code ${String(code)}): ${err.slice(-4000)}`));
      resolve();
    });
  });
  return {
    go: (port) => proc.stdin.write(`go ${port}\n`),
    vend: () => proc.stdin.write('vend\n'),
    send: (line) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.stdin.write(`${line}\n`);
    },
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
    ready,
    exited,
    lines: () => out.split('\n').filter((l) => l.length > 0),
    stderr: () => err,
  };
}

/** Tallies the "vend <result> ..." lines of a finished child. */
export function tallyOutcomes(child: GatewayChild, into: Map<string, number>): void {
  for (const line of child.lines()) {
    const [tag, result] = line.split(' ');
    if ((tag === 'vend' || tag === 'clear') && result !== undefined) into.set(`${tag}:${result}`, (into.get(`${tag}:${result}`) ?? 0) + 1);
  }
}

/**
 * Waits until the child has printed a captured vend, or the time is up (then the scenario's own
 * checks judge). The quick scenarios cut a share of their lives only after one capture: on a
 * loaded machine a vend outlasts their random cut delay, and the capture path would go untested.
 */
export async function untilCaptured(child: GatewayChild, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until && !child.lines().some((l) => l.startsWith('vend captured '))) await new Promise((r) => setTimeout(r, 50));
}

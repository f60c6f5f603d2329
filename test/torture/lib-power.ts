// The simulated room as a child process (crash-sim-child.ts) for the power-cut scenario: started
// from its state file, asked for the machines' own counts, killed with the gateway.
import { spawn } from 'node:child_process';
import type { ChildCommand } from '../engine/child.js';
import type { MachineCounts } from './lib-checks.js';

export interface CountsJson {
  lw: Record<string, { cycles: number; credited: boolean }>;
  coins: Record<string, number>;
}

export interface SimChild {
  port: Promise<number>;
  counts(): Promise<MachineCounts>;
  kill(): void;
  exited: Promise<void>;
  stderr(): string;
}

export function spawnSim(cmd: ChildCommand, o: { statePath: string; timeScale: number }): SimChild {
  const proc = spawn(process.execPath, [...cmd.args, JSON.stringify(o)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let portResolve: (n: number) => void = () => undefined;
  let portReject: (e: Error) => void = () => undefined;
  const port = new Promise<number>((resolve, reject) => {
    portResolve = resolve;
    portReject = reject;
  });
  port.catch(() => undefined);
  const waiting: Array<(c: CountsJson) => void> = [];
  proc.stdout.setEncoding('utf8').on('data', (s: string) => {
    out += s;
    let i: number;
    while ((i = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      const p = /^port (\d+)$/.exec(line);
      if (p) portResolve(Number(p[1]));
      if (line.startsWith('counts ')) waiting.shift()?.(JSON.parse(line.slice(7)) as CountsJson);
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-200_000)));
  proc.stdin.on('error', () => undefined);
  const exited = new Promise<void>((resolve) => {
    proc.on('error', (e) => {
      portReject(e);
      resolve();
    });
    proc.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') portReject(new Error(`simulator ended by itself (code ${String(code)}): ${err.slice(-2000)}`));
      resolve();
    });
  });
  return {
    port,
    counts: () =>
      new Promise<MachineCounts>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('simulator did not answer counts')), 10_000);
        waiting.push((c) => {
          clearTimeout(t);
          resolve({ lw: new Map(Object.entries(c.lw)), coins: new Map(Object.entries(c.coins)) });
        });
        proc.stdin.write('counts\n');
      }),
    kill: () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
    exited,
    stderr: () => err,
  };
}

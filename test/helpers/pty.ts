// A linked pseudo-terminal pair made by socat: what one end writes the other reads, with real
// termios underneath, so serial framing code runs exactly as on a USB adapter. `unplug()` kills
// socat (both device nodes vanish, like a pulled adapter) and `replug()` makes them again at the
// same paths.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface PtyPair {
  /** The end the code under test opens (the "gateway" side). */
  a: string;
  /** The end the peer opens (the simulator, or a test writing reader bytes). */
  b: string;
  unplug(): Promise<void>;
  replug(): Promise<void>;
  close(): Promise<void>;
}

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export async function openPtyPair(): Promise<PtyPair> {
  const dir = mkdtempSync(join(tmpdir(), 'pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let proc: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const p = spawn('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], { stdio: 'ignore' });
    proc = p;
    p.on('error', () => undefined);
    await waitFor(() => existsSync(a) && existsSync(b), 5000, `socat ptys at ${a}, ${b}`);
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await Promise.race([exited, sleep(2000, undefined, { ref: false })]);
    await waitFor(() => !existsSync(a) && !existsSync(b), 2000, 'pty links to vanish').catch(() => undefined);
  };

  await start();
  return {
    a,
    b,
    unplug: stop,
    replug: start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

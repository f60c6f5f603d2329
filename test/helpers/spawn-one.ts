// The parent side of run-one.ts: spawn a module's process, stream its progress lines, read its
// JSON result back.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUN_ONE = fileURLToPath(new URL('./run-one.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type Outcome<R> = { ok: true; result: R; seconds: number } | { ok: false; error: string; seconds: number };

export async function spawnOne<R>(kind: 'bench' | 'torture', name: string, opts: { quick: boolean; params: Map<string, string>; seed: number }): Promise<Outcome<R>> {
  const dir = mkdtempSync(join(tmpdir(), `${kind}-${name}-`));
  const out = join(dir, 'result.json');
  const t0 = performance.now();
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', RUN_ONE, kind, name, out], {
        cwd: ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, RUN_ONE_OPTIONS: JSON.stringify({ quick: opts.quick, params: Object.fromEntries(opts.params), seed: opts.seed }) },
      });
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    const seconds = (performance.now() - t0) / 1000;
    let raw: string;
    try {
      raw = readFileSync(out, 'utf8');
    } catch {
      return { ok: false, error: `the ${name} process exited with code ${String(code)} and wrote no result`, seconds };
    }
    const parsed = JSON.parse(raw) as { ok: true; result: R } | { ok: false; error: string };
    return parsed.ok ? { ok: true, result: parsed.result, seconds } : { ok: false, error: parsed.error, seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// How the crash tests start their child: compiled once to plain JavaScript with the project's
// own tsc (a plain node start costs half of a tsx one, and the crash test starts 50), falling
// back to tsx when the compile is not possible. The output lives in test-artifacts/ (ignored).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

export interface ChildCommand {
  /** Arguments for process.execPath, ending with the script. */
  args: string[];
  cleanup(): void;
}

export function prepareCrashChild(): ChildCommand {
  const out = join(ROOT, 'test-artifacts', `ledger-child-${process.pid}-${Date.now()}`);
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const cleanup = () => rmSync(out, { recursive: true, force: true });
  if (existsSync(tsc)) {
    mkdirSync(out, { recursive: true });
    const r = spawnSync(
      tsc,
      ['--ignoreConfig', '--outDir', out, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
        '--types', 'node', '--skipLibCheck', '--esModuleInterop', '--verbatimModuleSyntax', '--noCheck', SOURCE],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    const script = join(out, 'test', 'storage', 'crash-child.js');
    if (r.status === 0 && existsSync(script)) return { args: [script], cleanup };
    cleanup();
  }
  return { args: ['--import', 'tsx', SOURCE], cleanup: () => undefined };
}

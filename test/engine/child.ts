// How the crash test starts its gateway child: compiled once to plain JavaScript with the
// project's own tsc (a plain node start costs about half of a tsx one, and the test starts
// hundreds), falling back to tsx when the compile is not possible. Output in test-artifacts/.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

export interface ChildCommand {
  /** Arguments for process.execPath, ending with the script. */
  args: string[];
  compiled: boolean;
  cleanup(): void;
}

export function prepareGatewayChild(): ChildCommand {
  const out = join(ROOT, 'test-artifacts', `engine-child-${process.pid}-${Date.now()}`);
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const cleanup = (): void => rmSync(out, { recursive: true, force: true });
  if (existsSync(tsc) && process.env.ENGINE_CHILD_TSX !== '1') {
    mkdirSync(out, { recursive: true });
    const r = spawnSync(
      tsc,
      ['--ignoreConfig', '--outDir', out, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
        '--types', 'node', '--skipLibCheck', '--esModuleInterop', '--verbatimModuleSyntax', '--noCheck', SOURCE],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    const script = join(out, 'test', 'engine', 'crash-child.js');
    if (r.status === 0 && existsSync(script)) return { args: [script], compiled: true, cleanup };
    cleanup();
  }
  return { args: ['--import', 'tsx', SOURCE], compiled: false, cleanup: () => undefined };
}

// How the crash tests start their gateway child: compiled once to plain JavaScript with the
// project's own tsc (a plain node start costs about half of a tsx one, and the tests start
// hundreds), falling back to tsx when the compile is not possible. Output in test-artifacts/.
// The torture scenarios (test/torture/) compile their own child scripts the same way.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

export interface ChildCommand {
  /** Arguments for process.execPath, ending with the script. */
  args: string[];
  compiled: boolean;
  cleanup(): void;
}

/** source: an absolute path of a .ts script inside the repository (default: the engine's crash child). */
export function prepareGatewayChild(source: string = SOURCE): ChildCommand {
  const out = join(ROOT, 'test-artifacts', `engine-child-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`);
  const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
  const cleanup = (): void => rmSync(out, { recursive: true, force: true });
  if (existsSync(tsc) && process.env.ENGINE_CHILD_TSX !== '1') {
    mkdirSync(out, { recursive: true });
    const r = spawnSync(
      tsc,
      ['--ignoreConfig', '--outDir', out, '--rootDir', ROOT, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
        '--types', 'node', '--skipLibCheck', '--esModuleInterop', '--verbatimModuleSyntax', '--noCheck', source],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    const script = join(out, relative(ROOT, source).replace(/\.ts$/, '.js'));
    if (r.status === 0 && existsSync(script)) return { args: [script], compiled: true, cleanup };
    cleanup();
  }
  return { args: ['--import', 'tsx', source], compiled: false, cleanup: () => undefined };
}

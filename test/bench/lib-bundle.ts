// The daemon as the Debian package installs and the unit runs it, for the benchmarks that
// measure what runs on a Pi (footprint, startup).
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The daemon as the Debian package installs it: one minified file built by esbuild
 * (scripts/package/bundle.mjs), here in <dir>/bundle/bin/ beside a node_modules link so its
 * externals (native addons, MQTT.js) resolve as they do in /opt/laundry-gateway.
 */
export async function buildBundle(dir: string, log: (l: string) => void): Promise<string> {
  const out = join(dir, 'bundle');
  mkdirSync(join(out, 'bin'), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
  const file = join(out, 'bin', 'laundry-gateway.mjs');
  const { bundleDaemon } = (await import(pathToFileURL(join(ROOT, 'scripts', 'package', 'bundle.mjs')).href)) as { bundleDaemon: (outfile: string) => Promise<number> };
  const bytes = await bundleDaemon(file);
  log(`bundled the daemon as the package does: ${file}, ${bytes} bytes`);
  return file;
}


/**
 * The Node/V8 flags the service unit starts the daemon with (its ExecStart's node arguments before
 * the bin), so the bench runs the daemon as the unit does.
 */
export function unitNodeFlags(): string[] {
  const unit = readFileSync(join(ROOT, 'systemd', 'laundry-gateway.service'), 'utf8');
  const args = (/^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '').trim().split(/\s+/);
  const flags: string[] = [];
  for (const a of args.slice(1)) {
    if (!a.startsWith('--')) break;
    flags.push(a);
  }
  return flags;
}

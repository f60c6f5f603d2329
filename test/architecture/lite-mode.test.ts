// The unit runs the daemon under V8's --lite-mode (systemd/laundry-gateway.service), which turns
// WebAssembly off. Node's fetch, WebSocket and the rest of undici compile their HTTP parser to
// WebAssembly on first use and then throw `WebAssembly is not defined` from a lazy load: under
// the unit only, never in a test run. So the daemon's code must not use them; the browser's
// page script (served as text, run by the browser) may. On Node 22+ a value import of node:http
// in ESM does the same (its namespace reads the lazy WebSocket getter): the web server takes it
// with process.getBuiltinModule instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../scripts/import-graph.js';

const DAEMON_FOLDERS = ['gateway', 'protocols', 'storage'];
/** Code that runs in the browser, not in the daemon. */
const BROWSER_ONLY = new Set(['gateway/web/page-script.ts']);
const NEEDS_WASM = /\b(fetch\s*\(|new\s+WebSocket\b|WebAssembly\.|from\s+['"]undici['"]|EventSource\b)|^import\s+(?!type\b)[^;]*from\s+['"](node:)?http['"]/m;

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('the daemon uses nothing that needs WebAssembly (the unit runs it under --lite-mode)', () => {
  const offenders = DAEMON_FOLDERS.flatMap(tsFiles)
    .filter((f) => !BROWSER_ONLY.has(f))
    .filter((f) => NEEDS_WASM.test(readFileSync(join(ROOT, f), 'utf8').replace(/^\s*(\/\/|\*).*$/gm, '')));
  assert.deepEqual(offenders, []);
});

test('the daemon and its web server load under --lite-mode and stay up', () => {
  // Node 20 has no lazy undici behind node:http; Node 22 (the package's, and CI's second run)
  // crashes here if anything in the daemon's import graph loads undici.
  const script = "await import('./gateway/daemon.ts'); await import('./gateway/cli/run.ts'); await import('./gateway/web/server.ts'); setTimeout(() => process.stdout.write('alive'), 300);";
  const r = spawnSync(process.execPath, ['--lite-mode', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'alive');
});

test('the unit starts the daemon with --lite-mode, and this Node accepts it', () => {
  const unit = readFileSync(join(ROOT, 'systemd', 'laundry-gateway.service'), 'utf8');
  assert.match(unit, /^ExecStart=\S+\/node --lite-mode \S+\/laundry-gateway\.mjs run /m);
  const r = spawnSync(process.execPath, ['--lite-mode', '-e', 'process.stdout.write(String(typeof WebAssembly))'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'undefined', 'lite mode turns WebAssembly off: the first test guards exactly that');
});

// The Debian package runs the daemon as one file built by esbuild (scripts/package/bundle.mjs),
// not the tsc output the other tests run: this builds it as the package does, beside a
// node_modules of its own (the addons and MQTT.js stay outside it), and runs it under the unit's
// --lite-mode: `config check` on a good and a bad config, then the daemon against a simulated
// room until it has polled every unit, and a clean stop on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { SimRoom } from '../../simulator/index.js';
import { listenTcp } from '../../simulator/tcp-server.js';
import { silentLogger } from '../../gateway/core/log.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UNITS = [1, 2, 3];

function config(dir: string, port: number): unknown {
  return {
    room: { id: 'bundle-test', name: 'bundle test' },
    database: { path: join(dir, 'ledger.db') },
    buses: [{ id: 'bus1', transport: { type: 'tcp', host: '127.0.0.1', port, framing: 'mbap' }, pollIntervalMs: 200, units: UNITS.map((unit) => ({ unit, profile: 'lw485', machineId: `W${unit}`, kind: 'washer' })) }],
    readers: [],
    pricing: { version: 'p1', timeZone: 'UTC', base: [{ id: 'w', kind: 'washer', program: 1, priceCents: 250 }] },
    web: { host: '127.0.0.1', port: 0 },
    control: { socketPath: join(dir, 'control.sock') },
    log: { level: 'info' },
  };
}

test('the bundled daemon checks configs and polls a room under --lite-mode', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lgw-bundle-'));
  const room = new SimRoom({ units: UNITS.map((unit) => ({ unit, model: 'lw485-washer' })), timeScale: 1, logger: silentLogger() });
  room.start();
  const reads = new Set<number>();
  const endpoint = await listenTcp({ serve: (unit, pdu) => (reads.add(unit), room.serve(unit, pdu)) }, { host: '127.0.0.1', port: 0, framing: 'mbap' }, silentLogger());
  try {
    mkdirSync(join(dir, 'bin'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const bundle = join(dir, 'bin', 'laundry-gateway.mjs');
    const { bundleDaemon } = (await import(pathToFileURL(join(ROOT, 'scripts', 'package', 'bundle.mjs')).href)) as { bundleDaemon: (outfile: string) => Promise<number> };
    await bundleDaemon(bundle);
    assert.doesNotMatch(readFileSync(bundle, 'utf8'), /from\s*["']\.\.?\//, 'the bundle imports no file of its own');

    const good = join(dir, 'config.json');
    writeFileSync(good, JSON.stringify(config(dir, endpoint.port)));
    const ok = spawnSync(process.execPath, ['--lite-mode', bundle, 'config', 'check', '--config', good], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...(config(dir, endpoint.port) as object), surprise: 1 }));
    const refused = spawnSync(process.execPath, ['--lite-mode', bundle, 'config', 'check', '--config', bad], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(refused.status, 2, refused.stdout + refused.stderr);
    assert.match(refused.stdout + refused.stderr, /surprise/);

    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    delete env.LOG_LEVEL;
    const child = spawn(process.execPath, ['--lite-mode', bundle, 'run', '--config', good], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = Date.now() + 60_000;
    while (reads.size < UNITS.length && child.exitCode === null && Date.now() < until) await sleep(50);
    assert.equal(reads.size, UNITS.length, `the bundled daemon polled ${reads.size} of ${UNITS.length} units:\n${out.slice(-3000)}`);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out.slice(-3000));
  } finally {
    await endpoint.close();
    await room.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

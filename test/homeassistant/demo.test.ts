// `npm run demo -- --home-assistant` as a newcomer runs it: the stand-in Home Assistant discovers
// the room (16 machine devices and the room), a typed swipe shows as the machine credited and one
// free washer fewer, Ctrl-C stops it cleanly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './observer.js';
import { slow } from '../helpers/slowdown.js';

test('the demo with --home-assistant shows the room discovered and a swipe on the state topics', { timeout: slow(90_000) }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-demo-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'gateway/demo/main.ts', '--home-assistant'], {
    env: { ...process.env, DEMO_SCRIPT: 'off', DEMO_SIM_CONTROL_PORT: '0', DEMO_WEB_PORT: '0', DEMO_DIR: dir, LOG_LEVEL: 'info' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor(() => `the banner\n${lines.slice(-10).join('\n')}\n${stderr}`, () => lines.some((l) => l.includes("Home Assistant discovery on the building's broker mqtt://127.0.0.1:")), slow(60_000));
    // 12 LW-485 with 6 entities, 4 coin machines with 3, the room's 2 counts: 86 entities on 17 devices.
    await waitFor(() => `the room discovered\n${lines.slice(-10).join('\n')}`, () => lines.some((l) => /home assistant: the room discovered\s+entities=86 devices=17/.test(l)), slow(60_000));
    await waitFor('W3 idle in Home Assistant', () => lines.some((l) => /home assistant: state\s+entity=Washer W3 Status state=idle/.test(l)), slow(30_000));
    child.stdin.write('swipe W3 alice\n');
    await waitFor(() => `W3 credited\n${lines.slice(-10).join('\n')}`, () => lines.some((l) => /home assistant: state\s+entity=Washer W3 Status state=credited/.test(l)), slow(30_000));
    await waitFor('one free washer fewer', () => lines.some((l) => /home assistant: state\s+entity=Demo laundry room Free washers state=9/.test(l)), slow(30_000));
  } finally {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, stderr);
  }
});

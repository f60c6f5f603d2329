// SdNotifier against a real unix datagram socket standing in for systemd's, through the real
// systemd-notify: READY, STATUS, STOPPING in order; WATCHDOG only while healthy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { silentLogger } from '../../gateway/core/log.js';
import { SdNotifier, type HealthVerdict } from '../../gateway/core/sd-notify.js';
import { startNotifyReceiver } from './notify-receiver.js';
import { waitUntil } from '../cli/harness.js';

const tools = spawnSync('sh', ['-c', 'command -v systemd-notify && command -v python3']).status === 0;
const skip = tools ? false : 'needs systemd-notify (Debian package "systemd") and python3';

test('READY, STATUS and STOPPING arrive in order, with MAINPID', { skip }, async () => {
  const rx = await startNotifyReceiver();
  try {
    const n = new SdNotifier({ logger: silentLogger(), healthy: () => ({ ok: true }), env: { NOTIFY_SOCKET: rx.socketPath }, pid: 4242 });
    assert.equal(n.enabled, true);
    assert.equal(n.watchdogIntervalMs, null, 'no WATCHDOG_USEC: no watchdog');
    await n.ready('running: 16 machines');
    await n.status('line one\nline two');
    await n.stopping('stopping');
    await n.close();
    await rx.waitFor((f) => f.includes('STOPPING=1'), 'STOPPING=1');
    const f = rx.fields().filter((x) => x !== 'BARRIER=1');
    assert.ok(f.includes('MAINPID=4242'));
    const order = ['READY=1', 'STATUS=running: 16 machines', 'STATUS=line one line two', 'STOPPING=1'].map((x) => f.indexOf(x));
    assert.ok(order.every((i) => i >= 0), JSON.stringify(f));
    assert.deepEqual([...order].sort((a, b) => a - b), order);
  } finally {
    await rx.close();
  }
});

test('WATCHDOG=1 at half of WATCHDOG_USEC only while healthy; an unhealthy spell says why in STATUS', { skip }, async () => {
  const rx = await startNotifyReceiver();
  let verdict: HealthVerdict = { ok: true };
  let asked = 0;
  const n = new SdNotifier({
    logger: silentLogger(),
    healthy: () => {
      asked++;
      return verdict;
    },
    env: { NOTIFY_SOCKET: rx.socketPath, WATCHDOG_USEC: '200000' },
  });
  const pings = (): number => rx.fields().filter((x) => x === 'WATCHDOG=1').length;
  try {
    assert.equal(n.watchdogIntervalMs, 100);
    n.startWatchdog();
    await rx.waitFor(() => pings() >= 3, 'three watchdog pings');

    verdict = { ok: false, reason: 'bus bus1: no poll cycle for 31 s' };
    const from = asked;
    await waitUntil(() => asked >= from + 3, 'three unhealthy checks');
    // health is asked only when no ping is under way, so every earlier ping has been delivered
    await rx.waitFor((f) => f.includes('STATUS=unhealthy: bus bus1: no poll cycle for 31 s'), 'the unhealthy STATUS');
    const frozen = pings();
    const later = asked;
    await waitUntil(() => asked >= later + 5, 'five more unhealthy checks');
    assert.equal(pings(), frozen, 'no WATCHDOG=1 while unhealthy');

    verdict = { ok: true };
    await rx.waitFor(() => pings() > frozen, 'pings again once healthy');
    await rx.waitFor((f) => f.includes('STATUS=running'), 'the recovered STATUS');
    await n.stopping();
    const afterStop = asked;
    await n.close();
    assert.equal(asked, afterStop, 'no health checks after STOPPING');
  } finally {
    await n.close();
    await rx.close();
  }
});

test('the watchdog is off when WATCHDOG_PID names another process, and everything is a no-op outside systemd', async () => {
  const other = new SdNotifier({ logger: silentLogger(), healthy: () => ({ ok: true }), env: { NOTIFY_SOCKET: '/nonexistent/notify', WATCHDOG_USEC: '1000000', WATCHDOG_PID: '1' }, pid: 99 });
  assert.equal(other.watchdogIntervalMs, null);
  const none = new SdNotifier({ logger: silentLogger(), healthy: () => ({ ok: true }), env: {}, command: '/nonexistent/systemd-notify' });
  assert.equal(none.enabled, false);
  assert.equal(none.watchdogIntervalMs, null);
  await none.ready('x'); // would reject if it tried to spawn the missing command
  await none.close();
});

test('a missing systemd-notify is reported, not thrown', async () => {
  const n = new SdNotifier({ logger: silentLogger(), healthy: () => ({ ok: true }), env: { NOTIFY_SOCKET: '/tmp/whatever.sock' }, command: '/nonexistent/systemd-notify' });
  await n.ready();
  await n.status('still fine');
  await n.close();
});

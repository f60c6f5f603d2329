// The systemd files checked by systemd's own tools: the unit verifies clean and its sandbox
// scores at most 2.0 ("OK") offline; sysusers.d and tmpfiles.d are applied to a scratch root and
// the result inspected; the udev rules are linted for the keys the docs promise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..');
const UNIT = join(ROOT, 'systemd', 'laundry-gateway.service');
const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const MISSING = (tool: string): string => `${tool} is not installed (Debian package "systemd"): apt-get install systemd`;

/** verify needs ExecStart's binary to exist: point it at this node and this checkout. */
function testableUnit(): { dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'unit-'));
  const text = readFileSync(UNIT, 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${process.execPath} ${join(ROOT, 'bin', 'laundry-gateway.mjs')} run --config /etc/laundry-gateway/config.json`);
  const path = join(dir, 'laundry-gateway.service');
  writeFileSync(path, text);
  return { dir, path };
}

function directives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (x?.[1] === undefined) continue;
    m.set(x[1], [...(m.get(x[1]) ?? []), x[2] ?? '']);
  }
  return m;
}

test('the unit asks for what the daemon does: Type=notify, watchdog, restart, its user, its directories', () => {
  const d = directives(readFileSync(UNIT, 'utf8'));
  const one = (k: string): string | undefined => d.get(k)?.at(-1);
  assert.equal(one('Type'), 'notify');
  assert.equal(one('NotifyAccess'), 'all', 'messages come from a systemd-notify child');
  assert.ok(Number(one('WatchdogSec')) > 0);
  assert.equal(one('Restart'), 'always');
  assert.equal(one('User'), 'laundry-gw');
  assert.equal(one('SupplementaryGroups'), 'dialout');
  assert.equal(one('StateDirectory'), 'laundry-gateway');
  assert.equal(one('RuntimeDirectory'), 'laundry-gateway', 'the control socket lives in /run/laundry-gateway');
  assert.equal(one('MemoryDenyWriteExecute'), 'no', 'V8 JIT');
  assert.equal(one('PrivateDevices'), 'no');
  assert.equal(one('DevicePolicy'), 'closed');
  assert.ok((d.get('DeviceAllow') ?? []).includes('char-ttyUSB rw'));
  assert.match(one('ExecStart') ?? '', / run --config \/etc\/laundry-gateway\/config\.json$/);
  assert.ok(Number(one('TimeoutStopSec')) >= 10, 'vends in flight need a few seconds to finish');
  // Issue 13 case 5: without it the unit ran at 1 024 fds, and ~@resources stops node raising them.
  assert.equal(one('LimitNOFILE'), '2048');
});

test('systemd-analyze verify is clean', { skip: has('systemd-analyze') ? false : MISSING('systemd-analyze') }, () => {
  const u = testableUnit();
  try {
    const r = spawnSync('systemd-analyze', ['verify', u.path], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    // verify reports problems on stderr even when it exits 0
    const problems = r.stderr.split('\n').filter((l) => l.includes('laundry-gateway.service'));
    assert.deepEqual(problems, []);
  } finally {
    rmSync(u.dir, { recursive: true, force: true });
  }
});

test('systemd-analyze security --offline scores the sandbox at most 2.0', { skip: has('systemd-analyze') ? false : MISSING('systemd-analyze') }, () => {
  const u = testableUnit();
  try {
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', u.path], { encoding: 'utf8', timeout: 30_000 });
    const m = /Overall exposure level for laundry-gateway\.service: (\d+\.\d+)/.exec(r.stdout);
    assert.ok(m?.[1], `no score in:\n${r.stdout}\n${r.stderr}`);
    assert.ok(Number(m[1]) <= 2.0, `exposure ${m[1]} > 2.0:\n${r.stdout.split('\n').filter((l) => l.startsWith('✗')).join('\n')}`);
    // and the threshold form a CI script would use
    const t = spawnSync('systemd-analyze', ['security', '--offline=true', '--threshold=20', '--no-pager', u.path], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(t.status, 0);
  } finally {
    rmSync(u.dir, { recursive: true, force: true });
  }
});

const asRoot = process.getuid?.() === 0;

test('sysusers.d and tmpfiles.d make the user, its groups and the directories with their modes', { skip: !has('systemd-sysusers') || !has('systemd-tmpfiles') ? MISSING('systemd-sysusers') : asRoot ? false : 'needs root (tmpfiles chowns in the scratch root)' }, () => {
  const root = mkdtempSync(join(tmpdir(), 'sysroot-'));
  try {
    mkdirSync(join(root, 'etc'));
    const su = spawnSync('systemd-sysusers', [`--root=${root}`, join(ROOT, 'systemd', 'sysusers.d', 'laundry-gateway.conf')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(su.status, 0, su.stderr);
    const passwd = readFileSync(join(root, 'etc', 'passwd'), 'utf8');
    const group = readFileSync(join(root, 'etc', 'group'), 'utf8');
    const user = /^laundry-gw:x:(\d+):(\d+):[^:]*:\/var\/lib\/laundry-gateway:\/usr\/sbin\/nologin$/m.exec(passwd);
    assert.ok(user?.[1] && user[2], passwd);
    assert.ok(Number(user[1]) < 1000, 'a system user');
    assert.match(group, /^dialout:x:\d+:(.*,)?laundry-gw(,.*)?$/m);

    const tf = spawnSync('systemd-tmpfiles', [`--root=${root}`, '--create', join(ROOT, 'systemd', 'tmpfiles.d', 'laundry-gateway.conf')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(tf.status, 0, tf.stderr);
    const etc = statSync(join(root, 'etc', 'laundry-gateway'));
    assert.equal(etc.mode & 0o777, 0o750);
    assert.equal(etc.uid, 0);
    assert.equal(etc.gid, Number(user[2]));
    const state = statSync(join(root, 'var', 'lib', 'laundry-gateway'));
    assert.equal(state.mode & 0o777, 0o750);
    assert.equal(state.uid, Number(user[1]));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('udev rules: every rule names a stable symlink or sets the FTDI latency timer, with the keys udev knows', () => {
  const text = readFileSync(join(ROOT, 'systemd', 'udev', '99-laundry-gateway.rules'), 'utf8');
  const rules = text.split('\n').filter((l) => l.trim() !== '' && !l.trim().startsWith('#'));
  assert.ok(rules.length >= 3);
  const key = /^(SUBSYSTEM|ACTION|DRIVER|ATTRS\{[a-zA-Z_]+\}|ATTR\{[a-zA-Z_]+\}|ENV\{[A-Z_]+\}|SYMLINK|GROUP|MODE)(==|\+=|=)"[^"]*"$/;
  for (const rule of rules) {
    for (const part of rule.split(/,\s*/)) assert.match(part, key, `in rule: ${rule}`);
    assert.ok(/SYMLINK\+="laundry-[a-z0-9-]+"/.test(rule) || /ATTR\{latency_timer\}="1"/.test(rule), rule);
  }
  assert.ok(rules.some((r) => /DRIVER=="ftdi_sio"/.test(r) && /ATTR\{latency_timer\}="1"/.test(r)));
  assert.ok(rules.some((r) => /SYMLINK\+="laundry-bus0"/.test(r) && /ATTRS\{serial\}==/.test(r)));
});

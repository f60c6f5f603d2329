// The Debian package, installed for real: dpkg --root into a scratch root (maintainer scripts
// run chrootless with DPKG_ROOT, as dpkg does for bootstrapping), then its own bundled Node and
// daemon run from there as the service user it created, against the simulated room; then an
// upgrade to a newer version (ledger, room secret and config kept byte for byte) and a ledger
// from a newer schema (what a downgrade meets: the daemon refuses, and says why).
//
// Needs the .deb files: `npm run test:package` builds them (scripts/package/test.sh) and sets
// LAUNDRY_DEB (the package to install) and LAUNDRY_DEB_NEXT (the same build, a higher
// version). Without them the test is skipped. An arm64 package runs under qemu-user here.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { SimRoom, demoRoomUnits } from '../../simulator/index.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { silentLogger } from '../../gateway/core/log.js';
import { MIGRATIONS } from '../../storage/migrations.js';

const DEB = process.env.LAUNDRY_DEB;
const DEB_NEXT = process.env.LAUNDRY_DEB_NEXT;
// Under qemu the daemon starts 10-16x slower than natively.
const START_MS = 300_000;

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: START_MS });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** uid/gid of a name in the scratch root's own user database. */
function idOf(root: string, file: 'passwd' | 'group', name: string): number {
  const line = readFileSync(join(root, 'etc', file), 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));
  assert.ok(line, `${name} in ${root}/etc/${file}`);
  return Number(line.split(':')[2]);
}

describe('the Debian package in a scratch root', { skip: DEB === undefined ? 'LAUNDRY_DEB not set (npm run test:package builds the packages and sets it)' : false }, () => {
  const root = mkdtempSync(join(tmpdir(), 'lgw-deb-'));
  const app = join(root, 'opt/laundry-gateway');
  const node = join(app, 'node/bin/node');
  const cfgPath = join(root, 'etc/laundry-gateway/config.json');
  const state = join(root, 'var/lib/laundry-gateway');
  let room: SimRoom;
  let uid = -1;
  let gid = -1;

  function dpkg(...args: string[]): string {
    const r = run('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-depends', '--force-architecture', '--force-not-root', `--log=${join(root, 'dpkg.log')}`, ...args]);
    assert.equal(r.code, 0, r.out);
    return r.out;
  }
  /** The packaged CLI on the packaged Node, as the service user (the paths of the scratch root). */
  function cli(args: readonly string[], asService = true): { code: number | null; out: string } {
    const r = spawnSync(node, [join(app, 'bin/laundry-gateway.mjs'), ...args], { encoding: 'utf8', timeout: START_MS, ...(asService ? { uid, gid } : {}) });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }
  /** The same, without blocking this process: the simulator the daemon polls runs in it. */
  function cliAsync(args: readonly string[]): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
      const p = spawn(node, [join(app, 'bin/laundry-gateway.mjs'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      p.once('close', (code) => resolve({ code, out }));
    });
  }
  function startDaemon(): { child: ChildProcess; log: () => string; exited: Promise<number | null> } {
    // With the unit's UMask=0077 and its Node flag (ExecStart), as systemd starts it.
    const child = spawn('/bin/sh', ['-c', 'umask 0077 && exec "$0" "$@"', node, '--lite-mode', join(app, 'bin/laundry-gateway.mjs'), 'run', '--config', cfgPath], { uid, gid, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, log: () => log, exited };
  }
  async function untilLog(d: { log: () => string; exited: Promise<number | null> }, re: RegExp, what: string): Promise<void> {
    let gone = false;
    void d.exited.then(() => (gone = true));
    const until = Date.now() + START_MS;
    while (!re.test(d.log())) {
      if (gone) throw new Error(`daemon exited before ${what}:\n${d.log()}`);
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}:\n${d.log().slice(-3000)}`);
      await sleep(100);
    }
  }

  before(async () => {
    // What dpkg needs of a root: its database, and a root others may enter (the service user
    // reads its config inside it).
    for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/log', 'etc']) mkdirSync(join(root, d), { recursive: true });
    writeFileSync(join(root, 'var/lib/dpkg/status'), '');
    chmodSync(root, 0o755);
    room = new SimRoom({ units: demoRoomUnits(), timeScale: 1, logger: silentLogger() });
    room.start();
  });
  after(async () => {
    await room?.close();
    rmSync(root, { recursive: true, force: true });
  });

  test('install: files, modes, owners; the user and directories exist; a config is left to edit', () => {
    dpkg('-i', DEB ?? '');
    uid = idOf(root, 'passwd', 'laundry-gw');
    gid = idOf(root, 'group', 'laundry-gw');
    const dialout = readFileSync(join(root, 'etc/group'), 'utf8').split('\n').find((l) => l.startsWith('dialout:'));
    assert.match(dialout ?? '', /:laundry-gw$/, 'laundry-gw is in group dialout');
    assert.match(readFileSync(join(root, 'etc/passwd'), 'utf8'), /^laundry-gw:x:\d+:\d+:[^:]*:\/var\/lib\/laundry-gateway:\/usr\/sbin\/nologin$/m);

    const expect: Array<[string, number, number, number]> = [
      ['opt/laundry-gateway/node/bin/node', 0o755, 0, 0],
      ['opt/laundry-gateway/bin/laundry-gateway.mjs', 0o755, 0, 0],
      ['usr/lib/systemd/system/laundry-gateway.service', 0o644, 0, 0],
      ['usr/lib/sysusers.d/laundry-gateway.conf', 0o644, 0, 0],
      ['usr/lib/tmpfiles.d/laundry-gateway.conf', 0o644, 0, 0],
      ['usr/lib/udev/rules.d/99-laundry-gateway.rules', 0o644, 0, 0],
      ['etc/laundry-gateway', 0o750, 0, gid],
      ['etc/laundry-gateway/config.json', 0o640, 0, gid],
      ['var/lib/laundry-gateway', 0o750, uid, gid],
      ['var/backups/laundry-gateway', 0o700, 0, 0],
    ];
    for (const [p, mode, u, g] of expect) {
      const st = statSync(join(root, p));
      assert.equal((st.mode & 0o7777).toString(8), mode.toString(8), `mode of /${p}`);
      assert.equal(st.uid, u, `owner of /${p}`);
      assert.equal(st.gid, g, `group of /${p}`);
    }
    assert.ok(lstatSync(join(root, 'usr/bin/laundry-gateway')).isSymbolicLink());
    assert.equal(readlinkSync(join(root, 'usr/bin/laundry-gateway')), '../../opt/laundry-gateway/bin/laundry-gateway.mjs');
    assert.match(readFileSync(join(app, 'bin/laundry-gateway.mjs'), 'utf8'), /^#!\/opt\/laundry-gateway\/node\/bin\/node\n/);
    // The daemon is one bundled file (scripts/package/bundle.mjs): no module of our own beside it.
    assert.doesNotMatch(readFileSync(join(app, 'bin/laundry-gateway.mjs'), 'utf8'), /from\s*["']\.\.?\//, 'the bundle imports no file of its own');
    assert.ok(!existsSync(join(app, 'dist')), 'the package carries no tsc dist/');
    assert.equal(readFileSync(cfgPath, 'utf8'), readFileSync(join(root, 'usr/share/doc/laundry-gateway/config.example.json'), 'utf8'));
    assert.match(readFileSync(join(root, 'usr/lib/systemd/system/laundry-gateway.service'), 'utf8'), /^ExecStart=\/opt\/laundry-gateway\/node\/bin\/node --lite-mode \/opt\/laundry-gateway\/bin\/laundry-gateway\.mjs run --config \/etc\/laundry-gateway\/config\.json$/m);
  });

  test('config check and doctor say what the fresh config still lacks', () => {
    const check = cli(['config', 'check', '--config', cfgPath]);
    assert.equal(check.code, 2, check.out);
    assert.match(check.out, /web\.operatorToken/);
    const doctor = cli(['doctor', '--config', cfgPath]);
    assert.notEqual(doctor.code, 0, doctor.out);
    assert.match(doctor.out, /operatorToken/);
  });

  test('the daemon runs from the package as laundry-gw against the simulated room, and stops on SIGTERM', async () => {
    const { port } = await room.listenTcp({ host: '127.0.0.1', port: 0, framing: 'rtu' });
    const cfg = demoGatewayConfig({ tcpPort: port, dbPath: join(state, 'ledger.db'), qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
    const runDir = join(root, 'run/laundry-gateway');
    mkdirSync(join(root, 'run'), { mode: 0o755 });
    mkdirSync(runDir, { mode: 0o750 });
    spawnSync('chown', [`${uid}:${gid}`, runDir]);
    writeFileSync(cfgPath, JSON.stringify({ ...cfg, buses: cfg.buses.map((b) => ({ ...b, replyTimeoutMs: 1000 })), control: { socketPath: join(runDir, 'control.sock') } }, null, 2));
    assert.equal(cli(['config', 'check', '--config', cfgPath]).code, 0);
    const d = startDaemon();
    await untilLog(d, /"msg":"ready"/, 'ready');
    // The packaged CLI as root, like an operator with sudo (the socket is 0660 laundry-gw),
    // until every unit is discovered (under qemu the first poll cycles take a while).
    const until = Date.now() + START_MS;
    for (;;) {
      const status = await cliAsync(['status', '--json', '--config', cfgPath]);
      // An emulated daemon on a busy machine may miss the CLI's 15 s: ask again.
      if (status.code !== 0 && /no answer from the daemon/.test(status.out) && Date.now() < until) continue;
      assert.equal(status.code, 0, status.out);
      const s = JSON.parse(status.out) as { machines: { total: number }; buses: Array<{ unitsDiscovered: number; unitsConfigured: number }> };
      assert.equal(s.machines.total, 16);
      if (s.buses.every((b) => b.unitsDiscovered === b.unitsConfigured)) break;
      assert.ok(Date.now() < until, `units not discovered in time: ${status.out}`);
      await sleep(2000);
    }
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.log());
    for (const f of ['ledger.db', 'room-secret']) {
      const st = statSync(join(state, f));
      assert.equal(st.uid, uid, `${f} belongs to laundry-gw`);
      assert.equal((st.mode & 0o077), 0, `${f} is private to laundry-gw (mode ${(st.mode & 0o777).toString(8)})`);
    }
  });

  test('upgrade keeps the ledger, the room secret and the config, and the daemon starts on them', { skip: DEB_NEXT === undefined ? 'LAUNDRY_DEB_NEXT not set' : false }, async () => {
    const kept = ['var/lib/laundry-gateway/ledger.db', 'var/lib/laundry-gateway/room-secret', 'etc/laundry-gateway/config.json'].map((p) => [p, sha(join(root, p))] as const);
    dpkg('-i', DEB_NEXT ?? '');
    const version = run('dpkg-query', [`--root=${root}`, '-W', '-f', '${Version}', 'laundry-gateway']).out;
    assert.notEqual(version, '', 'installed version');
    for (const [p, h] of kept) assert.equal(sha(join(root, p)), h, `/${p} unchanged by the upgrade`);
    assert.equal(statSync(cfgPath).mode & 0o777, 0o640);
    const d = startDaemon();
    await untilLog(d, /"msg":"ready"/, 'ready after the upgrade');
    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0, d.log());
  });

  test('a ledger from a newer schema (a downgrade): the daemon refuses to start and says why', async () => {
    const latest = MIGRATIONS.reduce((m, x) => Math.max(m, x.version), 0);
    const db = new Database(join(state, 'ledger.db'));
    db.pragma(`user_version = ${latest + 1}`);
    db.close();
    const before = sha(join(state, 'ledger.db'));
    const d = startDaemon();
    const code = await d.exited;
    assert.notEqual(code, 0, d.log());
    assert.match(d.log(), new RegExp(`schema version ${latest + 1} is newer than this build knows \\(${latest}\\)`));
    assert.match(d.log(), /downgrading below the ledger's schema is not supported: reinstall the newer version/i);
    assert.equal(sha(join(state, 'ledger.db')), before, 'the newer ledger is left untouched');
  });
});

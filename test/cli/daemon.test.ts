// The CLI as an operator uses it over SSH, against the daemon as systemd runs it: a real
// `laundry-gateway run` child on the simulated demo room, a real control socket, and real
// CLI processes. Then SIGTERM, and the same commands against the stopped daemon.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { CMD_BLOCK } from '../../simulator/index.js';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { MAX_REQUEST_BYTES } from '../../gateway/control/protocol.js';
import { startNotifyReceiver, type NotifyReceiver } from '../systemd/notify-receiver.js';
import { runCli, startGateway, type Gateway } from './harness.js';
import { slow } from '../helpers/slowdown.js';

const ALICE = DEMO_CARDS[0].uid;
const BOB = DEMO_CARDS[1].uid;

/** Raw NDJSON exchange on the control socket: writes `payload`, collects lines until `lines` arrived or the peer closed. */
function raw(socketPath: string, payload: string, lines: number): Promise<{ lines: string[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = createConnection(socketPath);
    let buf = '';
    let closed = false;
    const got = (): string[] => buf.split('\n').filter((l) => l !== '');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no ${lines} lines in time; got ${buf}`));
    }, slow(15_000));
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      if (got().length >= lines) {
        clearTimeout(timer);
        s.destroy();
        resolve({ lines: got(), closed });
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ lines: got(), closed });
    });
    s.once('connect', () => s.write(payload));
  });
}

describe('the CLI against a running daemon, then a stopped one', () => {
  let gw: Gateway;
  let rx: NotifyReceiver;

  before(async () => {
    rx = await startNotifyReceiver();
    gw = await startGateway({ env: { NOTIFY_SOCKET: rx.socketPath, WATCHDOG_USEC: '2000000' } });
  });
  after(async () => {
    await gw?.close();
    await rx?.close();
  });

  test('systemd is told READY=1 after start-up and fed WATCHDOG=1 while healthy', async () => {
    await rx.waitFor((f) => f.includes('READY=1'), 'READY=1');
    await rx.waitFor((f) => f.includes('WATCHDOG=1'), 'WATCHDOG=1');
    const f = rx.fields();
    assert.ok(f.includes(`MAINPID=${gw.child.pid}`), JSON.stringify(f));
    assert.ok(f.some((x) => /^STATUS=running: 16 machines/.test(x)));
  });

  test('the socket is 0660 in its directory', () => {
    assert.equal(statSync(gw.socketPath).mode & 0o777, 0o660);
    assert.ok(statSync(gw.socketPath).isSocket());
  });

  test('status and machines', async () => {
    const [human, json, machines] = await Promise.all([gw.cli('status'), gw.cli('status', '--json'), gw.cli('machines', '--json')]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /daemon {6}running, pid \d+/);
    assert.match(human.stdout, /bus bus1 +port up, 13\/13 units discovered/);
    assert.equal(json.code, 0);
    const s = JSON.parse(json.stdout) as { daemon: { pid: number }; machines: { total: number }; room: { id: string } };
    assert.equal(s.daemon.pid, gw.child.pid);
    assert.equal(s.machines.total, 16);
    assert.equal(s.room.id, 'demo-room');
    const m = JSON.parse(machines.stdout) as { machines: Array<{ machineId: string; status: string; unit: number }> };
    assert.deepEqual(m.machines.map((x) => x.machineId).sort(), ['C1', 'C2', 'C3', 'C4', 'D1', 'D2', 'D3', 'D4', 'W1', 'W2', 'W3', 'W4', 'W5', 'W6', 'W7', 'W8']);
    assert.ok(m.machines.every((x) => x.status !== 'unknown'));
  });

  test('bus read, write and scan go through the daemon, which keeps the port', async () => {
    const read = await gw.cli('bus', 'read', '1', '4', '0', '2', '--json');
    assert.equal(read.code, 0, read.stderr);
    const r = JSON.parse(read.stdout) as { outcome: string; values: number[] };
    assert.equal(r.outcome, 'reply');
    assert.equal(r.values.length, 2);

    const auditBefore = (JSON.parse((await gw.cli('status', '--json')).stdout) as { ledger: { auditRecords: number } }).ledger.auditRecords;
    // the last register of W2's command block only stages a value: harmless, and readable back
    const write = await gw.cli('bus', 'write', '2', String(CMD_BLOCK + 4), '0x2a');
    assert.equal(write.code, 0, write.stderr);
    assert.match(write.stdout, new RegExp(`unit 2 register ${CMD_BLOCK + 4} := 42: written`));
    const back = await gw.cli('bus', 'read', '2', '3', String(CMD_BLOCK + 4), '1', '--json');
    assert.deepEqual((JSON.parse(back.stdout) as { values: number[] }).values, [42]);
    const auditAfter = (JSON.parse((await gw.cli('status', '--json')).stdout) as { ledger: { auditRecords: number } }).ledger.auditRecords;
    assert.equal(auditAfter, auditBefore + 1, 'a raw register write is recorded as an alert');

    const refused = await gw.cli('bus', 'write', '2', '0', '1');
    assert.equal(refused.code, 1);
    assert.match(refused.stdout, /exception 2 \(illegal data address\)/);

    const scan = await gw.cli('bus', 'scan', '--from', '8', '--to', '14', '--timeout', '1000', '--json');
    assert.equal(scan.code, 0, scan.stderr);
    assert.deepEqual((JSON.parse(scan.stdout) as { hits: Array<{ unit: number }> }).hits.map((h) => h.unit), [8, 9, 10, 11, 12]);

    const wrongBus = await gw.cli('bus', 'read', '1', '4', '0', '1', '--bus', 'nope');
    assert.equal(wrongBus.code, 2);
    assert.match(wrongBus.stderr, /no bus "nope"/);
    const badArgs = await gw.cli('bus', 'read', '1', '7', '0', '1');
    assert.equal(badArgs.code, 2);
  });

  test('a card vend shows in tx, the audit trail verifies, cards can be blocked and unblocked', async () => {
    gw.swipe(ALICE);
    await gw.waitForLog(/"result":"captured"/, 'the vend captured');
    const tx = await gw.cli('tx', '--json');
    const vends = (JSON.parse(tx.stdout) as { vends: Array<{ machineId: string; state: string; cardMask: string }> }).vends;
    assert.equal(vends[0]?.machineId, 'W1');
    assert.equal(vends[0]?.state, 'captured');
    assert.equal(vends[0]?.cardMask, `**********${ALICE.slice(-4)}`);

    const [audit, outbox, show] = await Promise.all([gw.cli('audit', 'verify'), gw.cli('outbox'), gw.cli('card', 'show', ALICE)]);
    assert.equal(audit.code, 0);
    assert.match(audit.stdout, /audit trail intact: \d+ records/);
    assert.match(outbox.stdout, /waiting +\d+/);
    assert.match(show.stdout, /account +acct-alice/);
    assert.match(show.stdout, /balance +17\.50/);

    const block = await gw.cli('card', 'block', BOB);
    assert.equal(block.code, 0, block.stderr);
    assert.match(block.stdout, /status +blocked \(list: active, local: blocked/);
    const unblock = await gw.cli('card', 'unblock', BOB);
    assert.match(unblock.stdout, /status +active/);
    for (const out of [tx.stdout, show.stdout, block.stdout, unblock.stdout, gw.logs()]) {
      assert.ok(!out.includes(ALICE) && !out.includes(BOB), 'a full card UID is never printed or logged');
    }
    const bad = await gw.cli('card', 'show', 'not-hex');
    assert.equal(bad.code, 2);
  });

  test('db backup makes a checked copy while the daemon runs, and will not overwrite', async () => {
    const dest = join(gw.dir, 'backup.db');
    const b = await gw.cli('db', 'backup', dest);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /copy integrity ok, audit trail intact/);
    assert.equal(statSync(dest).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${dest}-wal`) && !existsSync(`${dest}-shm`));
    const again = await gw.cli('db', 'backup', dest);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists/);
  });

  test('doctor checks the config, the ledger, the reader device and the daemon', async () => {
    const d = await gw.cli('doctor', '--json');
    const checks = JSON.parse(d.stdout) as Array<{ check: string; level: string; detail: string }>;
    const level = (name: string): string | undefined => checks.find((c) => c.check === name)?.level;
    assert.equal(level('config'), 'ok');
    assert.equal(level('database integrity'), 'ok');
    // The ledger a running daemon writes verifies: no mqtt block, so no head is acknowledged (warn).
    assert.equal(level('audit and money rows'), 'warn', JSON.stringify(checks.find((c) => c.check === 'audit and money rows')));
    assert.equal(level('daemon'), 'ok');
    assert.equal(level('broker'), 'skip', 'no mqtt block yet');
    // a pty is present and read-write, but not a stable by-id name
    assert.equal(level('device reader r-w1'), 'warn');
    assert.ok(checks.some((c) => c.check === 'free disk' && c.level !== 'fail'));
  });

  test('the socket refuses an oversize line and a malformed request, and keeps serving', async () => {
    const big = await raw(gw.socketPath, `{"cmd":"status","pad":"${'x'.repeat(MAX_REQUEST_BYTES)}"}\n`, 1);
    assert.match(big.lines[0] ?? '', /"too_large"/);
    const noNewline = await raw(gw.socketPath, 'x'.repeat(MAX_REQUEST_BYTES + 10), 1);
    assert.match(noNewline.lines[0] ?? '', /"too_large"/);
    const bad = await raw(gw.socketPath, '{"cmd":"bus.write","unit":999,"address":0,"value":1}\nnot json\n{"id":7,"cmd":"status"}\n', 3);
    const [a, b, c] = bad.lines.map((l) => JSON.parse(l) as { ok: boolean; id: unknown; error?: { code: string } });
    assert.equal(a?.error?.code, 'bad_request');
    assert.equal(b?.error?.code, 'bad_request');
    assert.equal(c?.ok, true);
    assert.equal(c?.id, 7);
  });

  test('a second daemon on the same config refuses to start and leaves the first alone', async () => {
    const second = await runCli(['run', '--config', gw.configPath]);
    assert.equal(second.code, 1);
    assert.match(second.stdout, /another gateway is running: not starting/);
    assert.ok(!/gateway started/.test(second.stdout), 'it never touched the bus');
    const status = await gw.cli('status', '--json');
    assert.equal(status.code, 0);
    assert.equal((JSON.parse(status.stdout) as { daemon: { pid: number } }).daemon.pid, gw.child.pid);
  });

  test('SIGTERM: STOPPING=1, exit 0, the socket is gone', async () => {
    gw.child.kill('SIGTERM');
    const { code } = await gw.exited;
    assert.equal(code, 0, gw.logs().slice(-2000));
    await rx.waitFor((f) => f.includes('STOPPING=1'), 'STOPPING=1');
    assert.ok(!existsSync(gw.socketPath));
  });

  test('daemon stopped: read-only commands read the ledger file, the rest say "daemon not running" (exit 3)', async () => {
    const [status, tx, audit, card, outbox] = await Promise.all([gw.cli('status'), gw.cli('tx', '--json'), gw.cli('audit', 'verify'), gw.cli('card', 'show', ALICE), gw.cli('outbox', '--json')]);
    assert.equal(status.code, 3);
    assert.match(status.stdout, /NOT RUNNING/);
    assert.match(status.stderr, /daemon not running/);
    assert.match(status.stdout, /1 vends, 0 unfinished/);
    assert.equal(tx.code, 0, tx.stderr);
    assert.equal((JSON.parse(tx.stdout) as { vends: unknown[] }).vends.length, 1);
    assert.match(tx.stderr, /daemon not running: read from/);
    assert.equal(audit.code, 0);
    assert.match(card.stdout, /balance +17\.50/);
    assert.equal(outbox.code, 0);

    // the config from the environment, as an operator's profile may set it
    const fromEnv = await runCli(['audit', 'verify'], { LAUNDRY_GATEWAY_CONFIG: gw.configPath });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    // an explicit --socket wins over the config's
    const elsewhere = await gw.cli('machines', '--socket', join(gw.dir, 'other.sock'));
    assert.equal(elsewhere.code, 3);
    assert.match(elsewhere.stderr, /other\.sock/);

    for (const args of [['machines'], ['bus', 'scan'], ['bus', 'read', '1', '4', '0', '1'], ['card', 'block', BOB]]) {
      const r = await gw.cli(...args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /daemon not running/);
    }
  });
});

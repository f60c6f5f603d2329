// A daemon from start to its first poll, and one card vend through it: the end-to-end path the
// arm64 CI subset needs (scripts/arm64/test.sh --ci), here on whatever CPU runs it. The daemon
// is `laundry-gateway run` as systemd starts it, on the simulated demo room over TCP, with a
// line card reader on a socat pty, so it loads every native addon (better-sqlite3 for the
// ledger, serialport's binding for the reader) and carries a vend end to end. It is asked over
// its control socket from this process: under emulation a CLI process alone takes a minute.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEMO_CARDS } from '../../gateway/demo/room.js';
import { controlRequest } from '../../gateway/control/client.js';
import { startGateway, type Gateway } from '../cli/harness.js';

// Generous: under qemu on a busy machine everything is 10-50x slower.
const READY_MS = 600_000;

describe(`a daemon on ${process.arch} from start to first poll`, () => {
  let gw: Gateway;
  const ask = { socketPath: '', timeoutMs: 60_000 };
  before(async () => {
    gw = await startGateway({ readyTimeoutMs: READY_MS });
    ask.socketPath = gw.socketPath;
  });
  after(async () => {
    await gw?.close();
  });

  test('every machine is polled and has a state', async () => {
    const r = await controlRequest(ask, { cmd: 'machines' });
    assert.equal(r.kind, 'ok', JSON.stringify(r));
    if (r.kind !== 'ok') return;
    assert.equal(r.result.machines.length, 16);
    assert.ok(r.result.machines.every((x) => x.status !== 'unknown'), JSON.stringify(r.result.machines));
  });

  test('a card swipe on the pty reader is held, credited and captured in the ledger', async () => {
    gw.swipe(DEMO_CARDS[0].uid);
    await gw.waitForLog(/"result":"captured"/, 'the vend captured', READY_MS);
    const tx = await controlRequest(ask, { cmd: 'tx', limit: 5 });
    assert.equal(tx.kind, 'ok', JSON.stringify(tx));
    if (tx.kind !== 'ok') return;
    assert.equal(tx.result.vends[0]?.machineId, 'W1');
    assert.equal(tx.result.vends[0]?.state, 'captured');
    const audit = await controlRequest(ask, { cmd: 'audit.verify' });
    assert.equal(audit.kind, 'ok', JSON.stringify(audit));
    if (audit.kind === 'ok') assert.equal(audit.result.ok, true, JSON.stringify(audit.result));
  });

  test('SIGTERM stops it cleanly (exit 0)', async () => {
    gw.child.kill('SIGTERM');
    const { code } = await gw.exited;
    assert.equal(code, 0);
  });
});

// The room as a whole: persistence across a power cut and a restart, seq safety through lost
// replies, the HTTP control API and the CLI as a real process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
import { SimRoom } from '../../simulator/room.js';
import { demoRoomUnits, type SimUnitConfig } from '../../simulator/config.js';
import { startControlServer } from '../../simulator/control-server.js';
import { SimActionError } from '../../simulator/errors.js';
import { silentLogger } from '../../gateway/core/log.js';
import { encodeMbapRequest, scanMbap } from '../../protocols/modbus/tcp.js';
import { encodeRtuRequest } from '../../protocols/modbus/rtu.js';
import { openTcpMaster, regs, waitFor } from './helpers.js';
import { slow } from '../helpers/slowdown.js';

const units: SimUnitConfig[] = [
  { unit: 1, model: 'lw485-washer', loadCell: true },
  { unit: 2, model: 'lw485-dryer' },
  { unit: 20, model: 'rio8', channels: [{ coinCents: 50, coinsPerCycle: 2, cycleMinutes: 30 }, null] },
];

function tmp(): { dir: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'simroom-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

const block = (seq: number, code: number, program = 0, amount = 0, minutes = 0) => ({ fc: 16 as const, address: 256, values: [seq, code, program, amount, minutes] });

test('power cut: units come back from the state file in the state they had; a restart too', () => {
  const t = tmp();
  try {
    const statePath = join(t.dir, 'state', 'room.json');
    const room = new SimRoom({ units, statePath, timeScale: 1 });
    room.handleRequest(1, block(1, 1, 3, 450));
    room.advance(1000);
    room.handleRequest(1, block(2, 6));
    room.handleRequest(2, block(1, 1, 2, 300, 30));
    room.advance(1000);
    room.handleRequest(20, { fc: 6, address: 16, value: 3 });
    room.advance(10 * 60_000);
    room.control.pressStart(20, 0);
    room.handleRequest(20, { fc: 6, address: 16, value: 2 });
    room.advance(60);
    const before = room.control.lw485(1);
    assert.equal(before.stateName, 'RUNNING');
    room.control.powerCycle();
    const after = room.control.lw485(1);
    assert.deepEqual([after.stateName, after.remainingSec, after.activeProgram, after.lastSeq, after.cycleCounter], ['RUNNING', before.remainingSec, 3, 2, 1]);
    assert.deepEqual([room.control.lw485(2).stateName, room.control.lw485(2).creditCents], ['CREDITED', 300]);
    const rio = room.control.rio8(20).channels[0];
    assert.deepEqual([rio?.pulseCounter, rio?.pulsesPending, rio?.machine?.coins, rio?.inUse], [0, 0, 1, true]);
    const restarted = new SimRoom({ units, statePath });
    assert.equal(restarted.control.lw485(1).remainingSec, before.remainingSec);
    restarted.advance(60 * 60_000);
    assert.equal(restarted.control.lw485(1).stateName, 'DONE', 'the running cycle resumes and finishes');
    restarted.control.reset();
    assert.equal(new SimRoom({ units, statePath }).control.lw485(1).stateName, 'IDLE');
    const file: unknown = JSON.parse(readFileSync(statePath, 'utf8'));
    assert.ok(typeof file === 'object' && file !== null && 'version' in file);
  } finally {
    t.done();
  }
});

test('a command whose reply was lost is repeated with the same seq and runs once', async () => {
  const room = new SimRoom({ units, timeScale: 1, replyDelayMs: 0, commandResultDelayMs: 0 });
  const { port } = await room.listenTcp({ port: 0, framing: 'rtu' });
  const tcp = await openTcpMaster(port);
  try {
    room.control.dropReplies(2, 1);
    const req = block(77, 1, 1, 200, 20);
    tcp.master.write(encodeRtuRequest(2, req));
    await waitFor('the first send to execute', () => room.control.lw485(2).lastSeq === 77);
    assert.equal(tcp.master.rx.length, 0, 'its reply was lost');
    assert.deepEqual(await tcp.master.request(2, req), { kind: 'registers-written', fc: 16, address: 256, quantity: 5 });
    const s = room.control.lw485(2);
    assert.deepEqual([s.stateName, s.creditCents, s.lastSeq, s.lastResult], ['CREDITED', 200, 77, 1]);
    assert.deepEqual(regs(await tcp.master.request(2, { fc: 4, address: 23, quantity: 3 })), [200, 77, 1], 'not "busy": it did not run twice');
  } finally {
    await tcp.close();
    await room.close();
  }
});

test('control actions refuse what the machine would not do', () => {
  const room = new SimRoom({ units });
  const c = room.control;
  assert.throws(() => c.pressStart(5), (e: unknown) => e instanceof SimActionError && e.kind === 'unknown-unit');
  assert.throws(() => c.pressStart(20), (e: unknown) => e instanceof SimActionError && e.kind === 'bad-argument');
  assert.throws(() => c.setDoor(20, true), (e: unknown) => e instanceof SimActionError && e.kind === 'not-possible');
  assert.throws(() => c.setLoad(2, 100), (e: unknown) => e instanceof SimActionError && e.kind === 'not-possible');
  c.setLoad(1, 4200);
  assert.equal(c.lw485(1).inputRegisters[28], 420);
  assert.throws(() => c.rio8(1), SimActionError);
  assert.throws(() => c.lw485(20), SimActionError);
  assert.deepEqual(c.units(), [1, 2, 20]);
  c.setOffline(1, true);
  assert.equal(room.handleRequest(1, { fc: 4, address: 0, quantity: 1 }), null);
  assert.equal(room.handleRequest(7, { fc: 4, address: 0, quantity: 1 }), null);
  c.clearWireFaults(1);
  assert.equal(room.handleRequest(1, { fc: 4, address: 0, quantity: 1 })?.kind, 'registers');
});

test('HTTP control API: snapshots, actions, 400 with a reason, 404, 409', async () => {
  const room = new SimRoom({ units });
  const server = await startControlServer(room.control, { port: 0, logger: silentLogger() });
  const base = `http://127.0.0.1:${server.port}`;
  const post = (path: string, body?: unknown): Promise<Response> =>
    fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  try {
    const list = (await (await fetch(`${base}/units`)).json()) as Array<{ unit: number; model: string }>;
    assert.deepEqual(list.map((u) => [u.unit, u.model]), [[1, 'lw485-washer'], [2, 'lw485-dryer'], [20, 'rio8']]);
    assert.equal((await post('/units/1/select', { program: 3 })).status, 200);
    const one = (await (await fetch(`${base}/units/1`)).json()) as { selectedProgram: number };
    assert.equal(one.selectedProgram, 3);
    const bad = await post('/units/1/door', { open: 'yes' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /open/);
    assert.equal((await post('/units/1/fault', { code: 99 })).status, 400);
    assert.equal((await post('/units/1/start', { channel: 1, extra: 1 })).status, 400);
    assert.equal((await post('/units/9/start')).status, 404);
    assert.equal((await post('/units/1/start')).status, 409, 'no credit: Start does nothing');
    assert.equal((await post('/units/1/nonsense')).status, 404);
    assert.equal((await post('/units/1/fault', { code: 2 })).status, 200);
    assert.equal((await post('/units/1/clear-fault-condition')).status, 200);
    assert.equal((await post('/units/1/clear-fault-condition')).status, 409);
    for (const [path, body] of [['offline', { offline: true }], ['corrupt', { n: 2 }], ['drop', { n: 1 }], ['delay', { ms: 50, n: 3 }], ['load', { grams: 3000 }]] as const) {
      assert.equal((await post(`/units/1/${path}`, body)).status, 200, path);
    }
    const s = room.control.lw485(1);
    assert.deepEqual([s.wire.offline, s.wire.corruptNext, s.wire.dropNext, s.wire.delayed, s.loadGrams], [true, 2, 1, [{ ms: 50, n: 3 }], 3000]);
    assert.equal((await post('/units/20/start', { channel: 0 })).status, 409, 'no coins yet');
    const notJson = await fetch(`${base}/units/1/load`, { method: 'POST', body: '{' });
    assert.equal(notJson.status, 400);
    assert.equal((await post('/power-cycle')).status, 200);
    assert.equal(room.control.lw485(1).loadGrams, 3000, 'no state file: the power cut keeps what memory held');
    assert.equal((await post('/reset')).status, 200);
    assert.equal(room.control.lw485(1).loadGrams, 0);
  } finally {
    await server.close();
    await room.close();
  }
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

test('CLI: runs the demo room from a config file until SIGTERM; a bad config is refused with its path', async () => {
  const t = tmp();
  try {
    const [mbap, control] = [await freePort(), await freePort()];
    const cfgPath = join(t.dir, 'room.json');
    const statePath = join(t.dir, 'state.json');
    writeFileSync(cfgPath, JSON.stringify({ units: 'demo', timeScale: 10, statePath, tcp: [{ port: mbap, framing: 'mbap' }], control: { port: control }, logLevel: 'warn' }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts', '--config', cfgPath], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let units: Array<{ unit: number }> = [];
      const until = Date.now() + slow(20_000);
      while (units.length === 0) {
        if (Date.now() > until || child.exitCode !== null) throw new Error(`simulator did not start: ${stderr}`);
        const r = await fetch(`http://127.0.0.1:${control}/units`).catch(() => null);
        if (r?.ok) units = (await r.json()) as Array<{ unit: number }>;
        else await new Promise((res) => setTimeout(res, 50));
      }
      assert.deepEqual(units.map((u) => u.unit), [...demoRoomUnits().map((u) => u.unit)]);
      const tcp = await openTcpMaster(mbap);
      tcp.master.write(encodeMbapRequest(1, 12, { fc: 4, address: 0, quantity: 1 }));
      const f = scanMbap(await tcp.master.take(11));
      assert.ok(f.status === 'frame' && f.pdu.readUInt16BE(2) === 0x4401);
      await tcp.close();
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, stderr);
    assert.ok(readFileSync(statePath, 'utf8').includes('"version":1'));

    writeFileSync(cfgPath, JSON.stringify({ units: [{ unit: 300, model: 'lw485-washer' }] }));
    const bad = spawn(process.execPath, ['--import', 'tsx', 'simulator/main.ts', '--config', cfgPath], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    bad.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => bad.on('exit', (c) => resolve(c)));
    assert.equal(code, 2);
    assert.match(err, /units\[0\]\.unit/);
  } finally {
    t.done();
  }
});

test('state file is outside input: garbage → factory state; one bad unit entry does not lose the others', () => {
  const t = tmp();
  try {
    const statePath = join(t.dir, 'room.json');
    writeFileSync(statePath, '{"version": 1, "units": {"1": {"model": "lw485-washer", "state": {"kind": "washer"}}');
    assert.equal(new SimRoom({ units, statePath }).control.lw485(1).stateName, 'IDLE', 'truncated JSON');
    const room = new SimRoom({ units, statePath });
    room.handleRequest(1, block(1, 1, 2, 350));
    room.handleRequest(2, block(1, 1, 2, 300, 30));
    room.advance(1000);
    const file = JSON.parse(readFileSync(statePath, 'utf8')) as { units: Record<string, { state: { creditCents: unknown } }> };
    const u1 = file.units['1'];
    assert.ok(u1);
    u1.state.creditCents = -5;
    writeFileSync(statePath, JSON.stringify(file));
    const back = new SimRoom({ units, statePath });
    assert.equal(back.control.lw485(1).stateName, 'IDLE', 'the bad entry starts from factory state');
    assert.equal(back.control.lw485(2).creditCents, 300, 'the good one is kept');
  } finally {
    t.done();
  }
});

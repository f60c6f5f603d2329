import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewayConfigSchema, type GatewayConfigInput } from '../../gateway/config/schema.js';
import { parseConfigText } from '../../gateway/config/load.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';

const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
const base = (): GatewayConfigInput => demoGatewayConfig({ tcpPort: 1502, dbPath: join(dir, 'l.db'), qrPublicKey: Buffer.alloc(32, 1).toString('base64url') });
type Mutable = { [k: string]: unknown };

function errorsOf(mutate: (c: Mutable) => void): string[] {
  const c = JSON.parse(JSON.stringify(base())) as Mutable;
  mutate(c);
  const r = parseConfigText('room.json', JSON.stringify(c), gatewayConfigSchema);
  return r.ok ? [] : r.errors;
}

function firstBus(c: Mutable): Mutable {
  const buses = c.buses as Mutable[];
  const b = buses[0];
  if (!b) throw new Error('no bus');
  return b;
}

test('the demo config is valid', () => {
  assert.deepEqual(errorsOf(() => undefined), []);
});

test('broken JSON is reported with file, line and column', () => {
  const r = parseConfigText('room.json', '{\n  "room": { "id": "x" ,,\n}', gatewayConfigSchema);
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.errors[0] ?? '', /^room\.json: not valid JSON \(line 2, column \d+\)/);
});

test('each config error names the file, the key path and the problem', () => {
  const dup = errorsOf((c) => {
    const units = firstBus(c).units as Mutable[];
    const u = units[1];
    if (u) u.unit = 1;
  });
  assert.ok(dup.some((e) => e.startsWith('room.json: buses[0].units[1].unit: unit 1 is already used')), dup.join('\n'));

  const profile = errorsOf((c) => {
    const units = firstBus(c).units as Mutable[];
    const u = units[0];
    if (u) u.profile = 'lw999';
  });
  assert.ok(profile.some((e) => e.startsWith('room.json: buses[0].units[0].profile:')), profile.join('\n'));

  const baud = errorsOf((c) => {
    firstBus(c).transport = { type: 'serial', path: '/dev/ttyUSB0', baudRate: 12345 };
  });
  assert.ok(baud.some((e) => e.startsWith('room.json: buses[0].transport.baudRate: the devices speak 9600, 19200, 38400 baud')), baud.join('\n'));

  const parity = errorsOf((c) => {
    firstBus(c).transport = { type: 'serial', path: '/dev/ttyUSB0', parity: 'none', stopBits: 1 };
  });
  assert.ok(parity.some((e) => e.includes('buses[0].transport.stopBits: parity "none" needs 2 stop bits')), parity.join('\n'));

  const machine = errorsOf((c) => {
    const units = firstBus(c).units as Mutable[];
    const u = units[1];
    if (u) u.machineId = 'W1';
  });
  assert.ok(machine.some((e) => e.includes('buses[0].units[1].machineId: machine id "W1" is already used')), machine.join('\n'));

  const unknownKey = errorsOf((c) => {
    c.colour = 'blue';
  });
  assert.ok(unknownKey.includes('room.json: colour: unknown key'), unknownKey.join('\n'));
});

test('a daemon with a broken config exits non-zero before touching the bus', async () => {
  let connections = 0;
  const server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const cfg = base() as unknown as Mutable;
  const bus = firstBus(cfg);
  bus.transport = { type: 'tcp', host: '127.0.0.1', port, framing: 'rtu' };
  const units = bus.units as Mutable[];
  const u = units[2];
  if (u) u.unit = 1; // duplicate unit id
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify(cfg));
  const r = spawnSync(process.execPath, ['bin/laundry-gateway.mjs', 'run', '--config', file], { encoding: 'utf8', timeout: 30_000 });
  server.close();
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /bad\.json: buses\[0\]\.units\[2\]\.unit: unit 1 is already used/);
  assert.match(r.stderr, /nothing was started/);
  assert.equal(connections, 0);

  const check = spawnSync(process.execPath, ['bin/laundry-gateway.mjs', 'config', 'check', '--config', file], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 2);
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify(base()));
  const ok = spawnSync(process.execPath, ['bin/laundry-gateway.mjs', 'config', 'check', '--config', good], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /ok \(room demo-room, 1 bus\(es\), 13 unit\(s\)/);
});

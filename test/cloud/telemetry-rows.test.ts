// The worker's telemetry written in groups (cloud/telemetry-store.ts): what one group becomes,
// as pure arithmetic. Over PostgreSQL the rows are checked by test/cloud/ingest.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { telemetryRows } from '../../cloud/telemetry-store.js';
import type { OtherUplink } from '../../cloud/uplinks.js';

// Only the fields telemetryRows reads; the full payloads are checked by zod before they get here.
const msg = (name: OtherUplink['name'], payload: Record<string, unknown>): OtherUplink => ({ kind: 'other', name, roomId: String(payload.gatewayId), machineId: null, payload }) as unknown as OtherUplink;

test('telemetryRows: the last status and health per gateway, the config version of the last message that said one, the newest state per machine, every event', () => {
  const r = telemetryRows([
    msg('status', { gatewayId: 'a', state: 'offline' }),
    msg('health', { gatewayId: 'a', configVersion: 4 }),
    msg('status', { gatewayId: 'a', state: 'online', configVersion: 5 }),
    msg('status', { gatewayId: 'b', state: 'online' }),
    msg('health', { gatewayId: 'c', configVersion: null }),
    msg('state', { gatewayId: 'a', machineId: 'm1', observedAt: 20 }),
    msg('state', { gatewayId: 'a', machineId: 'm1', observedAt: 10 }),
    msg('state', { gatewayId: 'a', machineId: 'm2', observedAt: 5 }),
    msg('reject', { gatewayId: 'a', reason: 'x' }),
    msg('command-result', { gatewayId: 'b', ok: true }),
    msg('reject', { gatewayId: 'a', reason: 'y' }),
  ]);
  assert.deepEqual(r.status, { gatewayId: ['a', 'b'], online: [true, true], configVersion: [5, null], configSaid: [true, false] });
  assert.deepEqual({ ...r.health, health: r.health.health.map((h) => JSON.parse(h) as unknown) }, { gatewayId: ['a', 'c'], health: [{ gatewayId: 'a', configVersion: 4 }, { gatewayId: 'c', configVersion: null }], configVersion: [5, null], configSaid: [true, true] });
  assert.deepEqual({ ...r.state, snapshot: [] }, { gatewayId: ['a', 'a'], machineId: ['m1', 'm2'], snapshot: [], observedMs: [20, 5] });
  assert.deepEqual(r.events.kind, ['reject', 'command-result', 'reject']);
});

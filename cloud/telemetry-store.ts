// The non-batch uplinks in PostgreSQL: each gateway's last status (online/offline), its last
// health and the config version it runs (gateway_status, one upsert each), each machine's
// latest snapshot, and the refusals and command results as events. Plain upserts: order between
// them is kept by their own timestamps. Each statement is named (prepared once per connection):
// a reconnecting fleet sends a status and a health per gateway at once, and PostgreSQL parsed
// and planned every one of them again.
import type { Pool } from 'pg';
import type { OtherUplink } from './uplinks.js';

export async function storeTelemetry(pool: Pool, u: OtherUplink): Promise<void> {
  switch (u.name) {
    case 'status': {
      const p = u.payload;
      // configVersion absent (an offline status, an older gateway): the stored one stays.
      await pool.query({
        name: 'telemetry-status',
        text: `INSERT INTO gateway_status (gateway_id, online, status_at, config_version) VALUES ($1, $2, now(), $3)
         ON CONFLICT (gateway_id) DO UPDATE SET online = excluded.online, status_at = excluded.status_at,
           config_version = CASE WHEN $4 THEN excluded.config_version ELSE gateway_status.config_version END`,
        values: [p.gatewayId, p.state === 'online', p.configVersion ?? null, p.configVersion !== undefined],
      });
      return;
    }
    case 'health': {
      const p = u.payload;
      await pool.query({
        name: 'telemetry-health',
        text: `INSERT INTO gateway_status (gateway_id, health, health_at, config_version) VALUES ($1, $2::jsonb, now(), $3)
         ON CONFLICT (gateway_id) DO UPDATE SET health = excluded.health, health_at = excluded.health_at,
           config_version = CASE WHEN $4 THEN excluded.config_version ELSE gateway_status.config_version END`,
        values: [p.gatewayId, JSON.stringify(p), p.configVersion ?? null, p.configVersion !== undefined],
      });
      return;
    }
    case 'state': {
      const p = u.payload;
      await pool.query({
        name: 'telemetry-state',
        text: `INSERT INTO machine_states (gateway_id, machine_id, snapshot, observed_ms) VALUES ($1, $2, $3::jsonb, $4)
         ON CONFLICT (gateway_id, machine_id) DO UPDATE SET snapshot = excluded.snapshot, observed_ms = excluded.observed_ms
         WHERE machine_states.observed_ms <= excluded.observed_ms`,
        values: [p.gatewayId, p.machineId, JSON.stringify(p), p.observedAt],
      });
      return;
    }
    case 'reject':
    case 'command-result':
      await pool.query({ name: 'telemetry-event', text: 'INSERT INTO gateway_events (gateway_id, kind, payload) VALUES ($1, $2, $3::jsonb)', values: [u.payload.gatewayId, u.name, JSON.stringify(u.payload)] });
      return;
  }
}

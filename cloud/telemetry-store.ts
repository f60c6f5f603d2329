// The non-batch uplinks in PostgreSQL: each gateway's last status (online/offline), its last
// health and the config version it runs (gateway_status), each machine's latest snapshot, and the
// refusals and command results as events. Written in groups, as the records are: what arrives
// while one group commits goes into the next, one multi-row statement per kind in one
// transaction. A reconnecting fleet sends a status and a health per gateway (and a state per
// machine) at once: one autocommit statement each was, per message, a parse, a plan, a round trip
// and a WAL flush (1 000 gateways reconnecting: 2 000+ of them against ~45 000 records in the
// fleet burst). Last value wins per key inside a group as it did between single upserts.
import { inTransaction } from './pg-transaction.js';
import type { Pool, PoolClient } from 'pg';
import type { OtherUplink } from './uplinks.js';

/** The most telemetry messages in one transaction. */
const MAX_GROUP = 1000;

type Msg<N extends OtherUplink['name']> = Extract<OtherUplink, { name: N }>;

/** One group as the columns of its statements, each key once (the last message for it wins). */
export interface TelemetryRows {
  /** configSaid false: no message of the group said a config version (the stored one stays); null said is "none applied". */
  status: { gatewayId: string[]; online: boolean[]; configVersion: (number | null)[]; configSaid: boolean[] };
  health: { gatewayId: string[]; health: string[]; configVersion: (number | null)[]; configSaid: boolean[] };
  state: { gatewayId: string[]; machineId: string[]; snapshot: string[]; observedMs: number[] };
  events: { gatewayId: string[]; kind: string[]; payload: string[] };
}

/**
 * Pure: a group of messages (in arrival order) as rows. Per gateway the last status and the last
 * health; the config version of both is the one the last message carrying one said (null: none
 * applied; absent from every message: the stored one stays); per machine the snapshot with the newest observedAt (the later on a tie);
 * every event.
 */
export function telemetryRows(group: readonly OtherUplink[]): TelemetryRows {
  const status = new Map<string, Msg<'status'>['payload']>();
  const health = new Map<string, Msg<'health'>['payload']>();
  const states = new Map<string, Msg<'state'>['payload']>();
  const cv = new Map<string, number | null>();
  const rows: TelemetryRows = { status: { gatewayId: [], online: [], configVersion: [], configSaid: [] }, health: { gatewayId: [], health: [], configVersion: [], configSaid: [] }, state: { gatewayId: [], machineId: [], snapshot: [], observedMs: [] }, events: { gatewayId: [], kind: [], payload: [] } };
  for (const u of group) {
    switch (u.name) {
      case 'status':
        status.set(u.payload.gatewayId, u.payload);
        if (u.payload.configVersion !== undefined) cv.set(u.payload.gatewayId, u.payload.configVersion);
        break;
      case 'health':
        health.set(u.payload.gatewayId, u.payload);
        if (u.payload.configVersion !== undefined) cv.set(u.payload.gatewayId, u.payload.configVersion);
        break;
      case 'state': {
        const key = `${u.payload.gatewayId}\n${u.payload.machineId}`;
        const had = states.get(key);
        if (had === undefined || had.observedAt <= u.payload.observedAt) states.set(key, u.payload);
        break;
      }
      case 'reject':
      case 'command-result':
        rows.events.gatewayId.push(u.payload.gatewayId);
        rows.events.kind.push(u.name);
        rows.events.payload.push(JSON.stringify(u.payload));
        break;
    }
  }
  for (const [g, p] of status) {
    rows.status.gatewayId.push(g);
    rows.status.online.push(p.state === 'online');
    rows.status.configVersion.push(cv.get(g) ?? null);
    rows.status.configSaid.push(cv.has(g));
  }
  for (const [g, p] of health) {
    rows.health.gatewayId.push(g);
    rows.health.health.push(JSON.stringify(p));
    rows.health.configVersion.push(cv.get(g) ?? null);
    rows.health.configSaid.push(cv.has(g));
  }
  for (const p of states.values()) {
    rows.state.gatewayId.push(p.gatewayId);
    rows.state.machineId.push(p.machineId);
    rows.state.snapshot.push(JSON.stringify(p));
    rows.state.observedMs.push(p.observedAt);
  }
  return rows;
}

/**
 * A jsonb[] parameter as one text of JSON texts joined by U+001E (JSON text never holds a raw
 * control character), split by PostgreSQL: pg's array serializer escapes every quote of every
 * element in JavaScript and PostgreSQL parses them back (a reconnecting fleet's 1 000 health
 * messages were the largest statement of a burst after the records' COPY).
 */
function jsonTexts(values: readonly string[]): string {
  return values.join('\x1e');
}

/** The SQL of a jsonTexts parameter as jsonb[]. */
const JSON_TEXTS = (param: string): string => `string_to_array(${param}::text, E'\\x1e')::jsonb[]`;

/** The rows of one status or health table whose config version was said (or not). */
function pickSaid<T extends { gatewayId: string[]; configVersion: (number | null)[]; configSaid: boolean[] }>(t: T, said: boolean): T {
  if (t.configSaid.every((x) => x === said)) return t;
  const keep = t.configSaid.map((x) => x === said);
  const out = { ...t };
  for (const [k, v] of Object.entries(t) as [keyof T, unknown][]) if (Array.isArray(v)) out[k] = v.filter((_x, i) => keep[i]) as T[keyof T];
  return out;
}

/** Stores one group in one transaction: at most one statement per kind, each named (prepared once per connection). */
export async function storeTelemetryGroup(pool: Pool, group: readonly OtherUplink[]): Promise<void> {
  const r = telemetryRows(group);
  return inTransaction(pool, async (c) => {
    // Each kind in two statements at most: rows whose group said a config version set it, the
    // others keep the stored one (ON CONFLICT cannot tell "said null" from "not said" per row).
    for (const said of [true, false]) {
      const st = pickSaid(r.status, said);
      if (st.gatewayId.length > 0) await upsertStatus(c, 'status', said, { column: 'online', type: 'boolean', values: st.online }, st.gatewayId, st.configVersion);
      const h = pickSaid(r.health, said);
      if (h.gatewayId.length > 0) await upsertStatus(c, 'health', said, { column: 'health', type: 'jsonb', values: jsonTexts(h.health) }, h.gatewayId, h.configVersion);
    }
    if (r.state.gatewayId.length > 0)
      await c.query({
        name: 'telemetry-state',
        text: `INSERT INTO machine_states (gateway_id, machine_id, snapshot, observed_ms)
         SELECT * FROM unnest($1::text[], $2::text[], ${JSON_TEXTS('$3')}, $4::bigint[])
         ON CONFLICT (gateway_id, machine_id) DO UPDATE SET snapshot = excluded.snapshot, observed_ms = excluded.observed_ms
         WHERE machine_states.observed_ms <= excluded.observed_ms`,
        values: [r.state.gatewayId, r.state.machineId, jsonTexts(r.state.snapshot), r.state.observedMs],
      });
    if (r.events.gatewayId.length > 0)
      await c.query({
        name: 'telemetry-events',
        text: `INSERT INTO gateway_events (gateway_id, kind, payload) SELECT * FROM unnest($1::text[], $2::text[], ${JSON_TEXTS('$3')})`,
        values: [r.events.gatewayId, r.events.kind, jsonTexts(r.events.payload)],
      });
  });
}

/**
 * The worker's telemetry queue: one group in flight at a time (one connection), the next
 * gathering meanwhile. A group that fails is reported and not retried: telemetry is
 * last-value-wins and the gateways send it again (status on every connect, health every
 * interval), so the next message repairs what one lost.
 */
export class TelemetryWriter {
  private queue: OtherUplink[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly pool: Pool,
    private readonly failed: (group: readonly OtherUplink[], e: unknown) => void,
  ) {}

  push(u: OtherUplink): void {
    this.queue.push(u);
    this.running ??= this.run();
  }

  /** Resolves once everything pushed so far is written (or reported failed). */
  async drained(): Promise<void> {
    while (this.running !== null) await this.running;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP);
      try {
        await storeTelemetryGroup(this.pool, group);
      } catch (e) {
        this.failed(group, e);
      }
    }
    this.running = null;
  }
}

/**
 * One kind's rows of gateway_status: its own column and time, and the config version only where
 * the group said one (`said`), so a status without a version keeps the stored one.
 */
async function upsertStatus(
  c: PoolClient,
  kind: 'status' | 'health',
  said: boolean,
  own: { column: 'online'; type: 'boolean'; values: readonly boolean[] } | { column: 'health'; type: 'jsonb'; values: string },
  gatewayIds: readonly string[],
  configVersions: readonly unknown[],
): Promise<void> {
  const col = own.column;
  await c.query({
    name: `telemetry-${kind}-${said}`,
    text: `INSERT INTO gateway_status (gateway_id, ${col}, ${kind}_at, config_version)
     SELECT g, x, now(), v FROM unnest($1::text[], ${own.type === 'jsonb' ? JSON_TEXTS('$2') : '$2::boolean[]'}, $3::bigint[]) AS u(g, x, v)
     ON CONFLICT (gateway_id) DO UPDATE SET ${col} = excluded.${col}, ${kind}_at = excluded.${kind}_at${said ? ', config_version = excluded.config_version' : ''}`,
    values: [gatewayIds, own.values, configVersions],
  });
}

// Shared set-up for the fleet-ingest tests: a cloud config for a broker and a PostgreSQL, one
// gateway (real ledger file, real Uplink) per room, and queries over what the ingest stored.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { systemClock } from '../../gateway/core/clock.js';
import { silentLogger } from '../../gateway/core/log.js';
import { Uplink } from '../../gateway/uplink/uplink.js';
import { parseCloudConfig, type CloudConfig, type CloudConfigInput } from '../../cloud/config.js';
import { openLedger, type Ledger } from '../../storage/index.js';
import { testConfig } from '../uplink/helpers.js';
import type { MqttConfigInput } from '../../gateway/uplink/config-schema.js';
import { migrate } from '../../cloud/schema.js';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startPostgres, type Postgres } from '../helpers/postgres.js';

/** A real Mosquitto and a real PostgreSQL with the ingest's schema (4 partitions), for a test file. */
export interface CloudDeps {
  broker: Broker;
  postgres: Postgres;
  pool: pg.Pool;
}

export async function startCloudDeps(poolMax: number): Promise<CloudDeps> {
  const broker = await startMosquitto();
  const postgres = await startPostgres();
  const pool = new pg.Pool({ connectionString: postgres.url, max: poolMax });
  await migrate(pool, 4);
  return { broker, postgres, pool };
}

export async function stopCloudDeps(d: CloudDeps): Promise<void> {
  await d.pool.end();
  await d.postgres.close();
  await d.broker.close();
}

export function cloudConfig(mqttUrl: string, pgUrl: string, over: Partial<CloudConfigInput> = {}): CloudConfig {
  return parseCloudConfig({
    mqtt: { url: mqttUrl, reconnectMs: 100, ...over.mqtt },
    postgres: { url: pgUrl, partitions: 4, ...over.postgres },
    ingest: { retryMinMs: 50, retryMaxMs: 500, ...over.ingest },
    logLevel: 'warn',
    ...Object.fromEntries(Object.entries(over).filter(([k]) => !['mqtt', 'postgres', 'ingest'].includes(k))),
  });
}

export interface Gateway {
  roomId: string;
  ledger: Ledger;
  uplink: Uplink;
}

export function gateway(roomId: string, path: string, brokerUrl: string, cfg: Partial<MqttConfigInput> = {}): Gateway {
  const ledger = openLedger({ path, roomSecret: Buffer.alloc(32, 9), gatewayId: roomId, bootId: randomUUID(), clock: systemClock, logger: silentLogger() });
  const uplink = new Uplink({ config: testConfig(brokerUrl, cfg), roomId, ledger, logger: silentLogger(), clock: systemClock });
  return { roomId, ledger, uplink };
}

export interface StoredSummary {
  count: number;
  distinct: number;
  minSeq: number;
  maxSeq: number;
  problems: number;
  storedSeq: number;
}

export async function summary(pool: pg.Pool, gatewayId: string): Promise<StoredSummary> {
  const r = await pool.query<{ count: string; distinct: string; min: string | null; max: string | null; problems: string }>(
    'SELECT count(*) AS count, count(DISTINCT seq) AS distinct, min(seq) AS min, max(seq) AS max, count(problem) AS problems FROM records WHERE gateway_id = $1',
    [gatewayId],
  );
  const g = await pool.query<{ stored_seq: string }>('SELECT stored_seq FROM gateways WHERE gateway_id = $1', [gatewayId]);
  const row = r.rows[0];
  return {
    count: Number(row?.count ?? 0),
    distinct: Number(row?.distinct ?? 0),
    minSeq: Number(row?.min ?? 0),
    maxSeq: Number(row?.max ?? 0),
    problems: Number(row?.problems ?? 0),
    storedSeq: Number(g.rows[0]?.stored_seq ?? 0),
  };
}

// The fleet ingest's config file (JSON), validated strictly: an unknown key anywhere is an error
// with its path, never ignored. Every limit and timeout lives here with its default.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeIssues } from '../protocols/mqtt/payloads.js';

const file = z.string().startsWith('/', 'an absolute file path');

export const cloudConfigSchema = z.strictObject({
  mqtt: z.strictObject({
    /** The broker this worker reads from (mqtt://, mqtts://). */
    url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'an mqtt://, mqtts://, ws:// or wss:// URL'),
    /** Shared-subscription group: every worker of one group on one broker shares the uplinks. */
    group: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('ingest'),
    /** Client id prefix; the worker adds its own id so two workers never take each other's session. */
    clientIdPrefix: z.string().regex(/^[A-Za-z0-9._-]{1,40}$/).default('ingest'),
    topicPrefix: z.string().default('laundry/v1'),
    username: z.string().min(1).max(128).optional(),
    passwordFile: file.optional(),
    caFile: file.optional(),
    certFile: file.optional(),
    keyFile: file.optional(),
    keepaliveSec: z.number().int().min(5).max(3600).default(30),
    /** MQTT 5 receive maximum: QoS 1 messages the broker may have in flight to this worker. */
    receiveMaximum: z.number().int().min(1).max(65_535).default(100),
    reconnectMs: z.number().int().min(50).max(60_000).default(1000),
  }),
  postgres: z.strictObject({
    /** postgres://user@host:port/db; the password, if any, in passwordFile. */
    url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// URL'),
    passwordFile: file.optional(),
    /** Connections of this worker: ingest transactions (ingest.maxTxInFlight) and telemetry upserts share them. */
    poolSize: z.number().int().min(1).max(100).default(4),
    /** Hash partitions of the records table, by gateway (used when the schema is first created). */
    partitions: z.number().int().min(1).max(1024).default(16),
    statementTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  }),
  ingest: z
    .strictObject({
      /** Batches committed in one transaction (those waiting when a connection frees up). */
      maxBatchesPerTx: z.number().int().min(1).max(1000).default(64),
      /**
       * Ingest transactions of this worker at once (at most poolSize). Few on purpose: while one
       * commits, the batches arriving gather into the next (group commit); with as many as the
       * pool a burst was cut into single-batch transactions, each paying the whole statement
       * sequence and a WAL flush (docs/performance.md section 9).
       */
      maxTxInFlight: z.number().int().min(1).max(100).default(2),
      /** Batches held in memory; past it the worker stops taking messages from the broker. */
      maxPending: z.number().int().min(1).max(100_000).default(2000),
      /** A failed transaction (PostgreSQL restarting) is tried again after this, then longer. */
      retryMinMs: z.number().int().min(10).default(200),
      retryMaxMs: z.number().int().min(10).default(5000),
      /** Attempts before the batches are dropped unacked (the gateways send them again). */
      maxAttempts: z.number().int().min(1).max(1000).default(20),
      /**
       * gateway_heads keeps a gateway's newest audit and money heads at most once per this many
       * ms (0: every head every batch carried). The newest is always on the gateway's row and
       * proves the whole history below it; the table's older ones say how far back a rewrite goes.
       */
      headsEveryMs: z.number().int().min(0).max(7 * 86_400_000).default(3_600_000),
      /** Out-of-stream batch ranges kept per gateway (a longer hole is filled by the gateway's resend). */
      maxSegments: z.number().int().min(1).max(10_000).default(64),
    })
    .prefault({}),
  /** The cloud's Ed25519 signing key for configs and commands: the 32-byte seed, base64url, in a file. */
  signingKeyFile: file.optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});

export type CloudConfig = z.output<typeof cloudConfigSchema>;
export type CloudConfigInput = z.input<typeof cloudConfigSchema>;

export function parseCloudConfig(raw: unknown): CloudConfig {
  const r = cloudConfigSchema.safeParse(raw);
  if (!r.success) throw new Error(`cloud config: ${describeIssues(r.error, 20)}`);
  return r.data;
}

export function loadCloudConfig(path: string): CloudConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`cloud config ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseCloudConfig(raw);
}

// The `mqtt` block of the gateway config. All timeouts, limits and backoff in one validated
// object with defaults; the integrator adds it to gateway/config/schema.ts.
import { z } from 'zod';
import { brokerLogin, brokerUrl } from '../core/broker-schema.js';


export const mqttConfigSchema = z.strictObject({
  /** mqtt://host:1883 or mqtts://host:8883. */
  url: brokerUrl,
  /** 5 (default) for persistent sessions with expiry; 4 (3.1.1) for brokers such as aedes. */
  protocolVersion: z.union([z.literal(4), z.literal(5)]).default(5),
  /** Default: the room id. Fixed, so the broker keeps one session for this gateway. */
  clientId: z.string().min(1).max(64).optional(),
  ...brokerLogin,
  topicPrefix: z.string().default('laundry/v1'),
  keepaliveSec: z.number().int().min(5).max(3600).default(30),
  /** How long the broker keeps our session (and queued downlinks) while we are away (MQTT 5). */
  sessionExpirySec: z.number().int().min(60).max(0xfffffffe).default(7 * 86400),
  connectTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
  reconnect: z
    .strictObject({
      minMs: z.number().int().min(10).default(1000),
      maxMs: z.number().int().min(10).default(60_000),
      factor: z.number().min(1).max(10).default(2),
      /** Fraction of each delay drawn at random, so a room of gateways does not reconnect in step. */
      jitter: z.number().min(0).max(1).default(0.3),
      /** A connection that lasted this long resets the backoff; shorter ones count as flapping. */
      stableMs: z.number().int().min(0).default(10_000),
    })
    .prefault({}),
  batch: z
    .strictObject({
      maxCount: z.number().int().min(1).max(10_000).default(500),
      maxBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(128 * 1024),
      /** A batch smaller than the limits waits this long after its oldest record for more. */
      maxWaitMs: z.number().int().min(0).max(60_000).default(500),
      /** No cloud ack within this → resend; doubles per attempt up to ackTimeoutMaxMs, forever. */
      ackTimeoutMs: z.number().int().min(50).default(15_000),
      ackTimeoutMaxMs: z.number().int().min(50).default(300_000),
      /**
       * Batches in flight at once (sent, not yet acked). 1 is one batch per ack round trip; more
       * keep the link busy while the cloud stores and acks. The cloud must follow the batches'
       * afterSeq chain (docs/mqtt-contract.md) when this is above 1.
       */
      window: z.number().int().min(1).max(64).default(4),
      /** Checks the outbox for new records this often when nothing else wakes the uplink. */
      pollMs: z.number().int().min(10).max(60_000).default(1000),
    })
    .prefault({}),
  healthIntervalSec: z.number().int().min(1).max(86_400).default(60),
  maxDownlinkBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
  /** The cloud's Ed25519 key for every signed downlink (all but the ack): the raw 32 bytes in base64url. Absent: they are refused (no_key). */
  configPublicKey: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'a raw 32-byte Ed25519 public key in base64url (43 characters)')
    .optional(),
  commands: z
    .strictObject({
      /** Commands valid for longer than this are refused: bounds how many used ids must be kept. */
      maxTtlSec: z.number().int().min(1).max(86_400).default(900),
      /** Tolerated clock difference for issuedAtSec in the future and expiresAtSec in the past. */
      skewSec: z.number().int().min(0).max(3600).default(30),
    })
    .prefault({}),
});

export type MqttConfig = z.infer<typeof mqttConfigSchema>;
export type MqttConfigInput = z.input<typeof mqttConfigSchema>;

// The `homeAssistant` block of the gateway config: the building's own MQTT broker, where Home
// Assistant finds the room's machines through MQTT discovery. Absent: the feature is off. This is
// a broker of its own, never the cloud's: the block shares nothing with `mqtt`.
import { z } from 'zod';
import { brokerLogin, brokerUrl } from '../core/broker-schema.js';

/** One MQTT topic level or a few: no wildcards, no empty levels, no leading or trailing "/". */
const topicPrefix = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/, 'letters, digits, "_" and "-", levels separated by "/"');

export const homeAssistantConfigSchema = z.strictObject({
  /** The building's broker: mqtt://host:1883 or mqtts://host:8883 (ws:// and wss:// work too). */
  url: brokerUrl,
  /** 4 (MQTT 3.1.1, default: what every broker Home Assistant runs with speaks) or 5. */
  protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  /** Default: laundry-gateway-<room id>. */
  clientId: z.string().min(1).max(64).optional(),
  ...brokerLogin,
  /** Home Assistant's discovery prefix (its MQTT options; `homeassistant` unless changed there). */
  discoveryPrefix: topicPrefix.default('homeassistant'),
  /** Where Home Assistant announces itself (its birth message, `online`): every config is published again. */
  birthTopic: topicPrefix.default('homeassistant/status'),
  /** Where the room's states and availability are published: <topicPrefix>/<room>/... */
  topicPrefix: topicPrefix.default('laundry-gateway'),
  keepaliveSec: z.number().int().min(5).max(3600).default(30),
  connectTimeoutMs: z.number().int().min(500).max(120_000).default(10_000),
  reconnect: z
    .strictObject({
      minMs: z.number().int().min(10).max(3_600_000).default(1000),
      maxMs: z.number().int().min(10).max(3_600_000).default(60_000),
      /** Fraction of each delay drawn at random, so the buildings' gateways do not retry in step. */
      jitter: z.number().min(0).max(1).default(0.3),
    })
    .prefault({}),
  /**
   * Publishes written but not yet acknowledged, at most. Beyond it nothing more is written: the
   * newest value of each topic waits (one per topic, so what waits is bounded by the entities).
   */
  maxInFlight: z.number().int().min(1).max(1000).default(32),
  /** Home Assistant asks to spread discovery after its birth message: a random delay up to this. */
  birthDelayMaxMs: z.number().int().min(0).max(60_000).default(2000),
});

export type HomeAssistantConfig = z.output<typeof homeAssistantConfigSchema>;
export type HomeAssistantConfigInput = z.input<typeof homeAssistantConfigSchema>;

// The daemon's config file, one JSON document. Each part's own block comes from the part that
// owns it (profiles, readers, pricing, risk, QR tokens); this file only assembles them and checks
// what spans parts (machine ids across buses, readers attached to machines that exist).
import { z } from 'zod';
import { busUnitsSchema, checkUniqueMachineIds, unitMachineIds } from '../profiles/config-schema.js';
import { readersConfigSchema } from '../readers/config-schema.js';
import { priceRulesSchema } from '../vend/pricing-schema.js';
import { riskConfigSchema } from '../vend/risk.js';
import { faultRefundPolicySchema } from '../vend/fault-refund.js';
import { qrTokenConfigSchema } from '../tokens/trusted-keys.js';
import { webConfigSchema } from '../web/config-schema.js';
import { mqttConfigSchema } from '../uplink/config-schema.js';
import { controlConfigSchema } from '../control/config-schema.js';
import { ParitySchema } from '../../protocols/modbus/timing.js';
import { homeAssistantConfigSchema } from '../homeassistant/config-schema.js';
import { secureCardsConfigSchema } from '../secure-cards/keys.js';

/** The LW-485 and RIO-8 speak 9600, 19200 (default) and 38400 baud. */
export const BUS_BAUD_RATES = [9600, 19200, 38400] as const;

const serialTransportSchema = z
  .strictObject({
    type: z.literal('serial'),
    /** Prefer /dev/serial/by-id/...: the ttyUSBn number changes on replug. */
    path: z.string().startsWith('/', 'an absolute device path'),
    baudRate: z
      .number()
      .int()
      .refine((n) => (BUS_BAUD_RATES as readonly number[]).includes(n), `the devices speak ${BUS_BAUD_RATES.join(', ')} baud`)
      .default(19200),
    parity: ParitySchema.default('even'),
    stopBits: z.union([z.literal(1), z.literal(2)]).optional(),
    dataBits: z.literal(8).default(8),
  })
  .transform((t) => ({ ...t, stopBits: t.stopBits ?? (t.parity === 'none' ? 2 : 1) }))
  .refine((t) => !(t.parity === 'none' && t.stopBits === 1), {
    message: 'parity "none" needs 2 stop bits (8N2), as the Modbus serial line standard and the LW-485 ask',
    path: ['stopBits'],
  });

const tcpTransportSchema = z.strictObject({
  type: z.literal('tcp'),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  /** 'rtu': RTU frames through a serial-to-Ethernet converter; 'mbap': Modbus TCP. */
  framing: z.enum(['rtu', 'mbap']).default('rtu'),
});

export const busConfigSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'letters, digits, ".", "_" and "-", at most 32'),
  transport: z.discriminatedUnion('type', [serialTransportSchema, tcpTransportSchema]),
  pollIntervalMs: z.number().int().min(50).max(60_000).default(1000),
  replyTimeoutMs: z.number().int().min(10).max(5000).default(100),
  units: busUnitsSchema,
});

export const gatewayConfigSchema = z
  .strictObject({
    room: z.strictObject({
      id: z.string().min(1).max(64),
      name: z.string().max(120).optional(),
    }),
    /** Where the ledger lives; the service unit's StateDirectory on a Pi. */
    database: z.strictObject({
      path: z.string().min(1),
      /** Settled, acknowledged history older than this is pruned daily; the cloud has it. */
      retentionDays: z.number().int().min(1).max(3650).default(90),
    }),
    buses: z.array(busConfigSchema).min(1, 'at least one bus'),
    readers: readersConfigSchema.default([]),
    pricing: priceRulesSchema,
    risk: riskConfigSchema.prefault({}),
    faultRefund: faultRefundPolicySchema.prefault({}),
    qrTokens: qrTokenConfigSchema.prefault({ keys: [] }),
    /** Secure cards (type S readers): the key file and the room's plain-card policy; absent: none. */
    secureCards: secureCardsConfigSchema.optional(),
    /** The cloud uplink; absent: the room runs offline only. */
    mqtt: mqttConfigSchema.optional(),
    web: webConfigSchema.prefault({}),
    /** The building's Home Assistant (MQTT discovery, read-only); absent: off. */
    homeAssistant: homeAssistantConfigSchema.optional(),
    control: controlConfigSchema,
    log: z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') }).prefault({}),
  })
  .superRefine((c, ctx) => {
    const ids = new Map<string, number>();
    c.buses.forEach((b, i) => {
      const prev = ids.get(b.id);
      if (prev !== undefined) ctx.addIssue({ code: 'custom', message: `bus id "${b.id}" is already used by buses[${prev}]`, path: ['buses', i, 'id'] });
      else ids.set(b.id, i);
    });
    checkUniqueMachineIds(
      c.buses.map((b, i) => ({ path: ['buses', i, 'units'], units: b.units })),
      ctx,
    );
    const machines = new Set(c.buses.flatMap((b) => b.units.flatMap((u) => unitMachineIds(u))));
    c.readers.forEach((r, i) => {
      if (r.type === 'sun' && c.secureCards === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a type S reader needs the secureCards block (its key file)', path: ['readers', i, 'type'] });
      }
      if (r.attachedTo !== 'kiosk' && !machines.has(r.attachedTo.machineId)) {
        ctx.addIssue({ code: 'custom', message: `reader is attached to machine "${r.attachedTo.machineId}", which no bus has`, path: ['readers', i, 'attachedTo', 'machineId'] });
      }
    });
  });

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
export type BusConfig = z.output<typeof busConfigSchema>;

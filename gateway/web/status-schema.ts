// The shape of GET /api/status and of each Server-Sent Event, as zod schemas: the page, the
// tests and any script reading the API share one definition. Times are wall-clock ms, money
// integer cents. No card UID, token or account id appears anywhere in here.
import { z } from 'zod';

const nullableInt = z.number().int().nullable();

export const machineViewSchema = z.strictObject({
  machineId: z.string(),
  name: z.string().nullable(),
  kind: z.enum(['washer', 'dryer']),
  busId: z.string().nullable(),
  unit: z.number().int().nullable(),
  status: z.enum(['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline']),
  program: nullableInt,
  programName: z.string().nullable(),
  selectedProgram: nullableInt,
  remainingSec: nullableInt,
  door: z.strictObject({ closed: z.boolean(), locked: z.boolean() }).nullable(),
  fault: z.strictObject({ code: z.number().int(), panel: z.string().regex(/^E\d{2,}$/), text: z.string() }).nullable(),
  creditCents: nullableInt,
  sensors: z.strictObject({ loadWeightGrams: z.number().nullable(), waterHardnessDh: z.number().nullable() }),
  /** Waiting for an earlier vend to be settled: takes no new vend. */
  blocked: z.boolean(),
  observedAt: z.number(),
});
export type MachineView = z.infer<typeof machineViewSchema>;

export const unitHealthSchema = z.strictObject({
  unit: z.number().int(),
  requests: z.number().int(),
  ok: z.number().int(),
  timeouts: z.number().int(),
  badFrames: z.number().int(),
  exceptions: z.number().int(),
  breakerRejected: z.number().int(),
  portDown: z.number().int(),
  latencyMs: z.strictObject({ last: z.number().nullable(), avg: z.number().nullable(), max: z.number().nullable() }),
  breaker: z.enum(['closed', 'open', 'half-open']),
  consecutiveFailures: z.number().int(),
  lastOkAt: z.number().nullable(),
});

export const busHealthSchema = z.strictObject({
  busId: z.string(),
  portUp: z.boolean(),
  queueLength: z.number().int(),
  units: z.array(unitHealthSchema),
});
export type BusHealth = z.infer<typeof busHealthSchema>;

export const clockViewSchema = z.strictObject({
  trusted: z.boolean(),
  floorSec: z.number().int(),
  systemSec: z.number().int(),
  nowSec: z.number().int(),
  source: z.string(),
});

export const outboxViewSchema = z.strictObject({
  depth: z.number().int(),
  oldestAgeMs: z.number().int().nullable(),
  lastSeq: z.number().int(),
  ackedSeq: z.number().int(),
  deadLetters: z.number().int(),
});

export const uplinkViewSchema = z.strictObject({
  /** 'unknown' when the room runs without an uplink (no `mqtt` block in the config). */
  state: z.enum(['online', 'offline', 'unknown']),
  lastAckAt: z.number().nullable(),
  outbox: outboxViewSchema,
});
export type UplinkView = z.infer<typeof uplinkViewSchema>;

export const vendViewSchema = z.strictObject({
  vendId: z.string(),
  createdMs: z.number(),
  method: z.string(),
  funding: z.string(),
  machineId: z.string(),
  program: nullableInt,
  /** Last 4 characters of the card UID only. */
  cardMask: z.string().regex(/^\**[0-9A-Fa-f]{0,4}$/).nullable(),
  amountCents: z.number().int(),
  state: z.enum(['held', 'credit_sent', 'captured', 'refunded']),
  capturedCents: nullableInt,
  refundedCents: nullableInt,
  finishReason: z.string().nullable(),
  finishedMs: z.number().nullable(),
});
export type VendView = z.infer<typeof vendViewSchema>;

export const alertViewSchema = z.strictObject({
  seq: z.number().int(),
  at: z.number(),
  code: z.string(),
  message: z.string().nullable(),
  machineId: z.string().nullable(),
  vendId: z.string().nullable(),
  clockTrusted: z.boolean(),
});
export type AlertView = z.infer<typeof alertViewSchema>;

export const feedbackViewSchema = z.strictObject({
  id: z.string(),
  at: z.number(),
  machineId: z.string().nullable(),
  message: z.string(),
  /** The contact itself goes upstream only; the page is readable by anyone who can reach it. */
  hasContact: z.boolean(),
});
export type FeedbackView = z.infer<typeof feedbackViewSchema>;

export const healthViewSchema = z.strictObject({
  generatedAt: z.number(),
  buses: z.array(busHealthSchema),
  clock: clockViewSchema,
  uplink: uplinkViewSchema,
});
export type HealthView = z.infer<typeof healthViewSchema>;

export const statusSchema = z.strictObject({
  generatedAt: z.number(),
  room: z.strictObject({ id: z.string(), name: z.string().nullable() }),
  machines: z.array(machineViewSchema),
  buses: z.array(busHealthSchema),
  clock: clockViewSchema,
  uplink: uplinkViewSchema,
  vends: z.array(vendViewSchema),
  alerts: z.array(alertViewSchema),
  /** Card and QR attempts declined since the gateway started, by reason (as /metrics counts them). */
  declines: z.record(z.string(), z.number().int().nonnegative()),
  feedback: z.array(feedbackViewSchema),
  actions: z.strictObject({
    /** An operator token is configured. */
    enabled: z.boolean(),
    supported: z.strictObject({ blockCard: z.boolean(), refund: z.boolean(), serviceMode: z.boolean(), clearFault: z.boolean() }),
  }),
  /** What the operator should fix: the page on the LAN over plain HTTP, secrets readable by others. */
  warnings: z.array(z.string()),
});
export type StatusView = z.infer<typeof statusSchema>;

export const tickViewSchema = z.strictObject({
  at: z.number(),
  machines: z.array(z.strictObject({ machineId: z.string(), status: machineViewSchema.shape.status, remainingSec: nullableInt })),
});

/** Every event on /api/events: the SSE `event:` name and its JSON `data:`. */
export const sseEventSchemas = {
  status: statusSchema,
  machine: machineViewSchema,
  tick: tickViewSchema,
  health: healthViewSchema,
  vend: vendViewSchema,
  alert: alertViewSchema,
  feedback: feedbackViewSchema,
} as const;
export type SseEventName = keyof typeof sseEventSchemas;
export type SseEvent = { [K in SseEventName]: { event: K; data: z.infer<(typeof sseEventSchemas)[K]> } }[SseEventName];

// The control socket's wire format: one JSON object per line each way. Requests are outside
// input to the daemon and responses are outside input to the CLI, so both sides parse with these
// schemas; the result types are inferred from them, so the two sides cannot drift apart.
import { z } from 'zod';

/** A request line longer than this is refused and the connection closed: no unbounded buffering. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Responses are larger (machine lists, scans) but still bounded, for the client's own buffer. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** What a request may carry as its id, and so what an answer may echo. */
export const requestIdSchema = z.union([z.int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().max(64)]);
const requestId = requestIdSchema.optional();
/** A chain head the cloud holds (`audit verify --audit-head SEQ:HASH`), for the ledger to prove. */
const chainHead = z.strictObject({ seq: z.int().min(0), hash: z.string().regex(/^[0-9a-f]{64}$/) });
const unitId = z.int().min(1).max(247);
const busId = z.string().min(1).max(32).optional();
const u16 = z.int().min(0).max(0xffff);
/** As the readers print it; the ledger keeps only its HMAC. */
const cardUid = z.string().regex(/^[0-9A-Fa-f]{4,32}$/, 'a card UID is 4 to 32 hex digits');

export const controlRequestSchema = z.discriminatedUnion('cmd', [
  z.strictObject({ id: requestId, cmd: z.literal('status') }),
  z.strictObject({ id: requestId, cmd: z.literal('machines') }),
  z
    .strictObject({
      id: requestId,
      cmd: z.literal('bus.scan'),
      bus: busId,
      from: unitId.default(1),
      to: unitId.default(247),
      timeoutMs: z.int().min(10).max(1000).default(50),
    })
    .refine((r) => r.from <= r.to, { message: 'from must not be above to', path: ['to'] }),
  z
    .strictObject({
      id: requestId,
      cmd: z.literal('bus.read'),
      bus: busId,
      unit: unitId,
      fc: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
      address: u16,
      count: z.int().min(1).max(125),
    })
    .refine((r) => r.address + r.count <= 0x10000, { message: 'address + count runs past 65535', path: ['count'] }),
  z.strictObject({ id: requestId, cmd: z.literal('bus.write'), bus: busId, unit: unitId, address: u16, value: u16 }),
  z.strictObject({ id: requestId, cmd: z.literal('tx'), limit: z.int().min(1).max(1000).default(20) }),
  z.strictObject({ id: requestId, cmd: z.literal('outbox'), deadLetters: z.int().min(0).max(100).default(5) }),
  z.strictObject({ id: requestId, cmd: z.literal('audit.verify'), auditHead: chainHead.optional(), moneyHead: chainHead.optional() }),
  z.strictObject({ id: requestId, cmd: z.literal('card.show'), uid: cardUid }),
  z.strictObject({ id: requestId, cmd: z.literal('card.block'), uid: cardUid }),
  z.strictObject({ id: requestId, cmd: z.literal('card.unblock'), uid: cardUid }),
]);

export type ControlRequest = z.output<typeof controlRequestSchema>;
export type ControlRequestInput = z.input<typeof controlRequestSchema>;
export type ControlCommand = ControlRequest['cmd'];
export type RequestFor<C extends ControlCommand> = Extract<ControlRequestInput, { cmd: C }>;

// ---- results ---------------------------------------------------------------------------------

const outboxStatsSchema = z.object({
  depth: z.number(),
  oldestAgeMs: z.number().nullable(),
  lastSeq: z.number(),
  ackedSeq: z.number(),
  deadLetters: z.number(),
});

const ledgerSummarySchema = z.object({
  path: z.string(),
  fileBytes: z.number(),
  walBytes: z.number(),
  vends: z.number(),
  unfinishedVends: z.number(),
  auditRecords: z.number(),
  cards: z.number(),
  auditHead: z.object({ seq: z.number(), hash: z.string() }),
});

export const statusResultSchema = z.object({
  /** null: the daemon is not running and this was read from the ledger file. */
  daemon: z
    .object({
      pid: z.number(),
      bootId: z.string(),
      startedAtMs: z.number(),
      uptimeSec: z.number(),
      node: z.string(),
      clockTrusted: z.boolean(),
    })
    .nullable(),
  room: z.object({ id: z.string(), name: z.string().nullable() }),
  buses: z.array(
    z.object({
      id: z.string(),
      portUp: z.boolean(),
      queueLength: z.number(),
      unitsConfigured: z.number(),
      unitsDiscovered: z.number(),
      breakersOpen: z.array(z.number()),
    }),
  ),
  machines: z.object({ total: z.number(), byStatus: z.record(z.string(), z.number()), blocked: z.array(z.string()) }).nullable(),
  outbox: outboxStatsSchema,
  ledger: ledgerSummarySchema,
});
export type StatusResult = z.infer<typeof statusResultSchema>;

export const machineViewSchema = z.object({
  machineId: z.string(),
  bus: z.string(),
  unit: z.number(),
  kind: z.string().nullable(),
  status: z.string(),
  program: z.number().nullable(),
  remainingSec: z.number().nullable(),
  door: z.object({ closed: z.boolean(), locked: z.boolean() }).nullable(),
  faultCode: z.number().nullable(),
  creditCents: z.number().nullable(),
  observedAt: z.number().nullable(),
  blocked: z.boolean(),
});
export type MachineView = z.infer<typeof machineViewSchema>;
export const machinesResultSchema = z.object({ machines: z.array(machineViewSchema) });
export type MachinesResult = z.infer<typeof machinesResultSchema>;

export const busScanResultSchema = z.object({
  bus: z.string(),
  from: z.number(),
  to: z.number(),
  hits: z.array(z.object({ unit: z.number(), answer: z.enum(['reply', 'exception']), registers: z.array(z.number()).optional(), latencyMs: z.number() })),
});
export type BusScanResult = z.infer<typeof busScanResultSchema>;

/** A bus answer as a diagnostic sees it: a Modbus exception or a timeout is a result, not an error. */
const busOutcomeSchema = z.object({
  bus: z.string(),
  unit: z.number(),
  outcome: z.enum(['reply', 'exception', 'timeout', 'bad-frame', 'breaker-open', 'port-down', 'closed']),
  detail: z.string(),
  exceptionCode: z.number().nullable(),
  latencyMs: z.number().nullable(),
});
export const busReadResultSchema = busOutcomeSchema.extend({ fc: z.number(), address: z.number(), count: z.number(), values: z.array(z.number()).nullable() });
export type BusReadResult = z.infer<typeof busReadResultSchema>;
export const busWriteResultSchema = busOutcomeSchema.extend({ address: z.number(), value: z.number() });
export type BusWriteResult = z.infer<typeof busWriteResultSchema>;

export const vendViewSchema = z.object({
  vendId: z.string(),
  createdMs: z.number(),
  method: z.string(),
  funding: z.string(),
  machineId: z.string(),
  program: z.number().nullable(),
  accountId: z.string().nullable(),
  cardMask: z.string().nullable(),
  amountCents: z.number(),
  state: z.string(),
  capturedCents: z.number().nullable(),
  refundedCents: z.number().nullable(),
  finishReason: z.string().nullable(),
});
export type VendView = z.infer<typeof vendViewSchema>;
export const txResultSchema = z.object({ vends: z.array(vendViewSchema) });
export type TxResult = z.infer<typeof txResultSchema>;

export const outboxResultSchema = z.object({
  stats: outboxStatsSchema,
  deadLetters: z.array(z.object({ seq: z.number(), type: z.string(), reason: z.string(), deadMs: z.number() })),
});
export type OutboxResult = z.infer<typeof outboxResultSchema>;

const headResult = z.object({ seq: z.number(), hash: z.string() });
export const auditResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    count: z.number(),
    head: headResult,
    anchorSeq: z.number(),
    money: z.object({ links: z.number(), head: headResult, entries: z.number(), vends: z.number(), accounts: z.number() }),
    anchors: z.array(z.object({ chain: z.enum(['audit', 'money']), source: z.enum(['acknowledged', 'given']), seq: z.number(), result: z.enum(['contained', 'not_contained', 'beyond_head', 'pruned']) })),
  }),
  z.object({ ok: z.literal(false), atSeq: z.number(), problem: z.string(), problems: z.array(z.string()) }),
]);
export type AuditResult = z.infer<typeof auditResultSchema>;

export const cardResultSchema = z.object({
  mask: z.string(),
  found: z.boolean(),
  accountId: z.string().nullable(),
  status: z.string().nullable(),
  listStatus: z.string().nullable(),
  localStatus: z.string().nullable(),
  listVersion: z.number().nullable(),
  balance: z.object({ balanceCents: z.number(), points: z.number(), tier: z.string(), pendingEntries: z.number() }).nullable(),
});
export type CardResult = z.infer<typeof cardResultSchema>;

/** Each command's result schema, for the client to parse what the daemon sent. */
export const resultSchemas = {
  status: statusResultSchema,
  machines: machinesResultSchema,
  'bus.scan': busScanResultSchema,
  'bus.read': busReadResultSchema,
  'bus.write': busWriteResultSchema,
  tx: txResultSchema,
  outbox: outboxResultSchema,
  'audit.verify': auditResultSchema,
  'card.show': cardResultSchema,
  'card.block': cardResultSchema,
  'card.unblock': cardResultSchema,
} as const satisfies Record<ControlCommand, z.ZodType>;

export type ResultOf<C extends ControlCommand> = z.infer<(typeof resultSchemas)[C]>;

export const errorCodeSchema = z.enum(['bad_request', 'too_large', 'unknown_bus', 'failed', 'shutting_down', 'busy']);
export type ControlErrorCode = z.infer<typeof errorCodeSchema>;

export const controlResponseSchema = z.discriminatedUnion('ok', [
  z.object({ id: requestId.nullable(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: requestId.nullable(), ok: z.literal(false), error: z.object({ code: errorCodeSchema, message: z.string() }) }),
]);
export type ControlResponse = z.infer<typeof controlResponseSchema>;

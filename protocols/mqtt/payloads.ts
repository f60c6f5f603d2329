// Every MQTT payload as a zod schema: the gateway parses downlinks with them at the edge, the
// cloud consumer parses uplinks, and docs/schemas/*.json is generated from them. Objects are
// strict (an unknown field is a rejected message, not a silently ignored one); money is integer
// cents; times are integer ms (fields ending At/Ms) or s (ending Sec) since the epoch.
import { z } from 'zod';
import type { DownName, UpName } from './topics.js';
import { issueLines } from '../issues.js';
import { batchOrderIssues, compileAccept } from './batch-parse.js';

export const WIRE_VERSION = 1 as const;
/** Downlinks above this many bytes are refused before they are parsed. */
export const MAX_DOWNLINK_BYTES = 256 * 1024;

const v = z.literal(WIRE_VERSION);
const gatewayId = z.string().min(1).max(64);
const seq = z.number().int().positive();
const watermark = z.number().int().nonnegative();
const epochMs = z.number().int().nonnegative();
const epochSec = z.number().int().nonnegative();
/**
 * Money and points bounds: a balance at most 10^12 cents either way, one top-up at most 10^9.
 * Far beyond any laundry account, and far below 2^53, so sums of them stay exact in a JS number:
 * an out-of-range value (a corrupted or edited message) is refused as a schema error instead of
 * turning balances into rounded floats.
 */
export const MAX_BALANCE_CENTS = 1_000_000_000_000;
export const MAX_TOP_UP_CENTS = 1_000_000_000;
const cents = z.number().int().min(-MAX_BALANCE_CENTS).max(MAX_BALANCE_CENTS);
const machineId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);
const accountId = z.string().min(1).max(128);
const b64urlSig = z.string().regex(/^[A-Za-z0-9_-]{86}$/, 'an Ed25519 signature: 64 bytes in base64url (86 characters)');

// ---- uplinks ---------------------------------------------------------------------------------

export const batchRecordSchema = z.strictObject({
  seq,
  /** The record's own id (uuid), stable across resends. */
  id: z.string().min(1).max(64),
  type: z.string().min(1).max(64),
  /** True for records that move money (vends, top-ups): the cloud books them. */
  money: z.boolean(),
  createdMs: epochMs,
  payload: z.unknown(),
});

export const auditHeadSchema = z.strictObject({ seq: watermark, hash: z.string().max(128) });

export const batchSchema = z
  .strictObject({
    v,
    gatewayId,
    /** `<fromSeq>-<toSeq>`: a resend of the same records carries the same id. */
    batchId: z.string().min(1).max(64),
    fromSeq: seq,
    toSeq: seq,
    /**
     * The batch continues the stream after this seq: the previous batch's toSeq, or the
     * gateway's ack watermark for the first batch after an ack, a timeout or a reconnect. With
     * several batches in flight, the cloud acks only a stream it holds without a hole: see
     * docs/mqtt-contract.md. Absent: the batch stands alone (one batch in flight).
     */
    afterSeq: watermark.optional(),
    /** The gateway's ack watermark when the batch was read: every seq at or below it is retired. */
    ackedSeq: watermark.optional(),
    records: z.array(batchRecordSchema).min(1),
    /** The audit chain head when the batch was read: lets the cloud notice a cut-off tail. */
    auditHead: auditHeadSchema,
    /**
     * The money chain head when the batch was read (the ledger's links binding every money row).
     * The cloud keeps both heads and acks them back; they are the anchors a local rewrite of the
     * ledger cannot move (docs/mqtt-contract.md). Absent from gateways before the money chain.
     */
    moneyHead: auditHeadSchema.optional(),
    sentAt: epochMs,
  })
  .superRefine((b, ctx) => {
    for (const i of batchOrderIssues(b)) ctx.addIssue({ code: 'custom', path: i.path, message: i.message });
  });

/**
 * batchSchema's fast path (batch-parse.ts): its rules compiled from the schema, true only for
 * what batchSchema surely accepts as it is (its output is then its input).
 */
const batchFastPath = compileAccept(batchSchema, (b) => batchOrderIssues(b as unknown as Batch).length === 0);

/** The fast path alone, and what of the schema it leaves to zod (nothing: test/cloud/batch-parse.test.ts). */
export const acceptBatch = batchFastPath.accept;
export const batchFastPathGaps = batchFastPath.unsupported;

/**
 * batchSchema.safeParse with the same verdict, fast for what it accepts: the compiled rules
 * first, and anything they do not accept through the full schema, which gives the issues.
 * (test/uplink/protocol.test.ts and test/cloud/batch-parse.test.ts hold the two to the same verdict.)
 */
export function parseBatch(raw: unknown): z.ZodSafeParseResult<Batch> {
  if (acceptBatch(raw)) return { success: true, data: raw as Batch };
  return batchSchema.safeParse(raw);
}

export const machineSnapshotSchema = z.strictObject({
  v,
  gatewayId,
  machineId,
  kind: z.enum(['washer', 'dryer']),
  status: z.enum(['idle', 'credited', 'running', 'paused', 'done', 'fault', 'service', 'offline']),
  program: z.number().int().nullable(),
  selectedProgram: z.number().int().nullable(),
  remainingSec: z.number().int().nullable(),
  door: z.strictObject({ closed: z.boolean(), locked: z.boolean() }).nullable(),
  faultCode: z.number().int().nullable(),
  creditCents: cents.nullable(),
  sensors: z.strictObject({ loadWeightGrams: z.number().nullable(), waterHardnessDh: z.number().nullable() }),
  observedAt: epochMs,
});

export const healthSchema = z.strictObject({
  v,
  gatewayId,
  at: epochMs,
  uptimeSec: z.number().int().nonnegative(),
  outbox: z.strictObject({
    depth: z.number().int().nonnegative(),
    oldestAgeMs: z.number().int().nonnegative().nullable(),
    lastSeq: watermark,
    ackedSeq: watermark,
    deadLetters: z.number().int().nonnegative(),
  }),
  link: z.strictObject({
    /** Successful connections since start. */
    connects: z.number().int().nonnegative(),
    inFlight: z.strictObject({ batchId: z.string(), fromSeq: seq, toSeq: seq, attempts: z.number().int().positive() }).nullable(),
  }),
  /** Bus master statistics keyed by bus id, as the bus masters report them. */
  bus: z.record(z.string(), z.unknown()),
  /** The signed room config version the gateway runs; null: none applied yet. */
  configVersion: seq.nullable(),
});

export const statusSchema = z.strictObject({
  v,
  gatewayId,
  state: z.enum(['online', 'offline']),
  /** Absent in the last will, which the broker sends at an unknown later time. */
  at: epochMs.optional(),
  /** Online status only: the signed room config version the gateway runs (null: none yet). */
  configVersion: seq.nullable().optional(),
});

export const REJECT_REASONS = [
  'oversized',
  'malformed_json',
  'schema',
  'wrong_room',
  'bad_signature',
  'no_key',
  'old_version',
  'base_mismatch',
  'replayed',
  'coverage_back',
  'beyond_outbox',
  'expired',
  'not_yet_valid',
  'apply_failed',
] as const;
export type RejectReasonCode = (typeof REJECT_REASONS)[number];

export const rejectSchema = z.strictObject({
  v,
  gatewayId,
  /** The downlink topic the refused message came on. */
  topic: z.string().max(256),
  reason: z.enum(REJECT_REASONS),
  detail: z.string().max(1000),
  /** The refused message's id or version when it could be read far enough. */
  ref: z.string().max(128).optional(),
  at: epochMs,
});

export const COMMAND_KINDS = ['start', 'pause', 'resume', 'addTime', 'cancel'] as const;
export type RemoteCommandKind = (typeof COMMAND_KINDS)[number];

export const commandResultSchema = z.strictObject({
  v,
  gatewayId,
  commandId: z.string().min(1).max(64),
  machineId,
  kind: z.enum(COMMAND_KINDS),
  /** The device outcome; 'failed' when the gateway could not run the command at all. */
  outcome: z.enum(['accepted', 'rejected', 'unknown', 'unsupported', 'failed']),
  reason: z.string().max(64).nullable(),
  detail: z.string().max(500).nullable(),
  at: epochMs,
});

// ---- downlinks -------------------------------------------------------------------------------

export const ackSchema = z.strictObject({
  v,
  gatewayId,
  /** The batch this ack answers; informative: upToSeq is what counts. */
  batchId: z.string().min(1).max(64).optional(),
  /** Every record of this gateway with seq <= upToSeq is stored durably, or listed in rejected. */
  upToSeq: watermark,
  /** Records the cloud will never accept (invalid): the gateway dead-letters them and raises an alert. */
  rejected: z
    .array(z.strictObject({ seq, reason: z.string().min(1).max(500) }))
    .max(10_000)
    .optional(),
  /** The cloud's wall clock, seconds: a floor for the gateway clock. */
  cloudTimeSec: epochSec.optional(),
  /**
   * The newest audit and money heads the cloud holds for this gateway (from the batches it
   * stored): the gateway keeps them as the anchors `audit verify` proves its chains still contain.
   */
  auditHead: auditHeadSchema.optional(),
  moneyHead: auditHeadSchema.optional(),
});

const cardUid = z.string().regex(/^[0-9A-Fa-f]{4,32}$/, 'card UID must be hexadecimal');
const cardStatus = z.enum(['active', 'lost', 'blocked']);
const cardEntry = z.strictObject({
  uid: cardUid,
  accountId,
  status: cardStatus,
  /** A secure card (NTAG 424 DNA): a plain UID read of it is declined clone_suspected. */
  secure: z.boolean().optional(),
  /** The highest SUN counter the fleet has seen for this card: a tap must be above it. */
  fleetCounter: z.number().int().min(0).max(0xffffff).optional(),
  /** The key version the card is encoded under. */
  keyVersion: z.number().int().min(1).max(1_000_000).optional(),
});
const cardRemoval = z.strictObject({ uid: cardUid, remove: z.literal(true) });

// Money downlinks (card lists, account snapshots, top-ups) are signed like configs and commands:
// the schemas below are the JSON text inside the envelope, `type` and `roomId` included.
const signedRoomId = z.string().min(1).max(64);

/** The JSON inside a down/cards envelope's `cards`. */
export const cardListSchema = z.discriminatedUnion('kind', [
  z.strictObject({ type: z.literal('card-list'), roomId: signedRoomId, kind: z.literal('full'), version: seq, cards: z.array(cardEntry).max(100_000) }),
  z.strictObject({ type: z.literal('card-list'), roomId: signedRoomId, kind: z.literal('diff'), version: seq, baseVersion: watermark, cards: z.array(z.union([cardRemoval, cardEntry])).max(100_000) }),
]);

export const accountSnapshotSchema = z.strictObject({
  accountId,
  version: seq,
  balanceCents: cents,
  points: z.number().int().min(-MAX_BALANCE_CENTS).max(MAX_BALANCE_CENTS),
  tier: z.string().max(64),
  /** Highest outbox seq of this gateway whose records the balance includes (docs/mqtt-contract.md, "Balances"). */
  coveredSeq: watermark,
  /** When the member joined (tenants' tenure discounts); absent: unknown, no tenure step applies. */
  memberSinceMs: epochMs.optional(),
});

/** The JSON inside a down/accounts envelope's `accounts`. */
export const accountsSchema = z.strictObject({ type: z.literal('account-snapshots'), roomId: signedRoomId, snapshots: z.array(accountSnapshotSchema).min(1).max(10_000) });

export const topUpSchema = z.strictObject({
  /** The cloud's id of the top-up: a re-delivery with the same id credits once. */
  cloudId: z.string().min(1).max(128),
  accountId,
  amountCents: z.number().int().positive().max(MAX_TOP_UP_CENTS),
  /** The account version the cloud booked it at: every snapshot at or past it includes it. */
  accountVersion: seq,
});

/** The JSON inside a down/topups envelope's `topUps`. */
export const topUpsSchema = z.strictObject({ type: z.literal('top-ups'), roomId: signedRoomId, topUps: z.array(topUpSchema).min(1).max(1000) });

/**
 * A signed downlink: `sig` is Ed25519 over the exact UTF-8 bytes of the JSON text in `config`
 * (or `command`, `cards`, `accounts`, `topUps`). Signing text, not a re-serialized object, means
 * no canonical JSON is needed. protocols/mqtt/sign-downlink.ts builds them.
 */
export const signedConfigSchema = z.strictObject({ v, config: z.string().min(2).max(200_000), sig: b64urlSig });
export const signedCommandSchema = z.strictObject({ v, command: z.string().min(2).max(4_000), sig: b64urlSig });
/** Texts up to the downlink size cap: the cap, checked first, is the real limit. */
export const signedCardsSchema = z.strictObject({ v, cards: z.string().min(2).max(MAX_DOWNLINK_BYTES), sig: b64urlSig });
export const signedAccountsSchema = z.strictObject({ v, accounts: z.string().min(2).max(MAX_DOWNLINK_BYTES), sig: b64urlSig });
export const signedTopUpsSchema = z.strictObject({ v, topUps: z.string().min(2).max(MAX_DOWNLINK_BYTES), sig: b64urlSig });
/** Secure-card keys (protocols/mqtt/key-downlink.ts): a small text; the keys never come back up. */
export const signedKeysSchema = z.strictObject({ v, keys: z.string().min(2).max(16 * 1024), sig: b64urlSig });

/** The JSON inside signedCommand.command. `type` keeps a signed config from passing as a command. */
export const remoteCommandSchema = z
  .strictObject({
    type: z.literal('remote-command'),
    roomId: z.string().min(1).max(64),
    /** Unique per command: a second command with the same id is refused. */
    id: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/),
    machineId,
    kind: z.enum(COMMAND_KINDS),
    /** addTime only: minutes bought and the most the app showed the user for them. */
    args: z.strictObject({ minutes: z.number().int().min(1).max(240), amountCents: z.number().int().min(0).max(1_000_000) }).optional(),
    /**
     * start and addTime: who pays. account: held from that account's balance like a card vend;
     * points: from the account's points (its tier must price points); prepaid: the cloud
     * already charged amountCents online (for addTime, args.amountCents).
     * Absent: start only a machine a vend of ours credited; addTime charges the running cycle's account.
     */
    payment: z
      .discriminatedUnion('by', [
        z.strictObject({ by: z.literal('account'), accountId }),
        /** Held from the account's points, at its tier's centsPerPoint. */
        z.strictObject({ by: z.literal('points'), accountId }),
        z.strictObject({ by: z.literal('prepaid'), amountCents: z.number().int().min(0).max(1_000_000) }),
      ])
      .optional(),
    issuedAtSec: epochSec,
    expiresAtSec: epochSec,
  })
  .superRefine((c, ctx) => {
    if (c.payment !== undefined && c.kind !== 'start' && c.kind !== 'addTime') ctx.addIssue({ code: 'custom', path: ['payment'], message: `${c.kind} takes no payment` });
    if (c.payment?.by === 'prepaid' && c.kind === 'addTime' && c.payment.amountCents !== c.args?.amountCents) ctx.addIssue({ code: 'custom', path: ['payment', 'amountCents'], message: 'a prepaid addTime pays args.amountCents' });
    if (c.kind === 'addTime' && c.args === undefined) ctx.addIssue({ code: 'custom', path: ['args'], message: 'addTime needs args' });
    if (c.kind !== 'addTime' && c.args !== undefined) ctx.addIssue({ code: 'custom', path: ['args'], message: `${c.kind} takes no args` });
    if (c.expiresAtSec <= c.issuedAtSec) ctx.addIssue({ code: 'custom', path: ['expiresAtSec'], message: 'expiresAtSec must be after issuedAtSec' });
  });

export type Batch = z.infer<typeof batchSchema>;
export type BatchRecord = z.infer<typeof batchRecordSchema>;
export type MachineSnapshot = z.infer<typeof machineSnapshotSchema>;
export type Health = z.infer<typeof healthSchema>;
export type Status = z.infer<typeof statusSchema>;
export type Reject = z.infer<typeof rejectSchema>;
export type CommandResult = z.infer<typeof commandResultSchema>;
export type Ack = z.infer<typeof ackSchema>;
export type CardList = z.infer<typeof cardListSchema>;
export type Accounts = z.infer<typeof accountsSchema>;
export type TopUps = z.infer<typeof topUpsSchema>;
export type SignedConfig = z.infer<typeof signedConfigSchema>;
export type SignedCommand = z.infer<typeof signedCommandSchema>;
export type SignedCards = z.infer<typeof signedCardsSchema>;
export type SignedAccounts = z.infer<typeof signedAccountsSchema>;
export type SignedTopUps = z.infer<typeof signedTopUpsSchema>;
export type SignedKeys = z.infer<typeof signedKeysSchema>;
export type RemoteCommand = z.infer<typeof remoteCommandSchema>;

/** The one type map from topic name to payload, both directions. */
export interface UpPayloads {
  batch: Batch;
  state: MachineSnapshot;
  health: Health;
  status: Status;
  reject: Reject;
  'command-result': CommandResult;
}
export interface DownPayloads {
  ack: Ack;
  config: SignedConfig;
  cards: SignedCards;
  accounts: SignedAccounts;
  topups: SignedTopUps;
  commands: SignedCommand;
  keys: SignedKeys;
}

export const UP_SCHEMAS = {
  batch: batchSchema,
  state: machineSnapshotSchema,
  health: healthSchema,
  status: statusSchema,
  reject: rejectSchema,
  'command-result': commandResultSchema,
} as const satisfies Record<UpName, z.ZodType>;

export const DOWN_SCHEMAS = {
  ack: ackSchema,
  config: signedConfigSchema,
  cards: signedCardsSchema,
  accounts: signedAccountsSchema,
  topups: signedTopUpsSchema,
  commands: signedCommandSchema,
  keys: signedKeysSchema,
} as const satisfies Record<DownName, z.ZodType>;

// Compile-time check that the schema map and the type map agree.
type SchemaOut<T extends Record<string, z.ZodType>> = { [K in keyof T]: z.infer<T[K]> };
const upAgree: SchemaOut<typeof UP_SCHEMAS> extends UpPayloads ? true : never = true;
const downAgree: SchemaOut<typeof DOWN_SCHEMAS> extends DownPayloads ? true : never = true;
export const TYPE_MAP_AGREES = upAgree && downAgree;

/** Short, value-free description of a zod error: paths and messages, never the offending values. */
export function describeIssues(err: z.ZodError, max = 5): string {
  return issueLines(err.issues).slice(0, max).join('; ');
}

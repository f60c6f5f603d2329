// Downlinks from the cloud: each is size-checked, parsed as JSON, validated with its zod schema
// (strict: unknown fields are refused), signature-checked (every downlink but the ack is signed
// with the cloud key), version-checked, and only then applied through the ledger's domain API.
// A refused message changes nothing and is reported on up/reject with a reason code. Acks are
// handled by the uplink loop, not here.
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { defineSetting, settingOrUndefined, type AccountsLedger, type CardsLedger, type OutboxLedger, type SettingsLedger } from '../../storage/index.js';
import type { Logger } from '../core/log.js';
import type { CommandOutcome } from '../profiles/types.js';
import { DOWN_SCHEMAS, describeIssues, remoteCommandSchema, type CommandResult, type RejectReasonCode, type RemoteCommand } from '../../protocols/mqtt/payloads.js';
import { accountsSchema, cardListSchema, topUpsSchema, type Accounts, type CardList, type TopUps } from '../../protocols/mqtt/payloads.js';
import type { DownName } from '../../protocols/mqtt/topics.js';
import { keyDownlinkSchema, type KeyDownlink } from '../../protocols/mqtt/key-downlink.js';
import { persistRoomConfig, roomConfigSchema, verifySigned, type RoomConfig } from './room-config.js';
import type { MqttConfig } from './config-schema.js';

/** What a remote command came to: the machine's answer, or the gateway's reason for refusing it. */
export interface RemoteCommandResult {
  status: CommandOutcome['status'];
  reason?: string | null;
  detail?: string | null;
}

/** Implemented by the vend engine (gateway/engine/machine-commands.ts): every command under its claim on the machine. */
export interface RemoteCommandTarget {
  command(cmd: RemoteCommand): Promise<RemoteCommandResult>;
}

/** Implemented by the secure-cards feature (gateway/secure-cards/index.ts): where the key downlink's keys live. */
export interface SecureCardKeyTarget {
  /** The key message version the live keys came in; 0 when none did. */
  appliedVersion(): number;
  /** Stores the keys durably (the key file) and makes them live; throws when they cannot be stored. */
  apply(msg: KeyDownlink): { versions: number[] };
}

/** Card lists, account snapshots and top-ups, the downlinks' settings, and remote command results queued upstream. */
export type DownlinkLedger = CardsLedger & AccountsLedger & SettingsLedger & OutboxLedger;

export interface DownlinkDeps {
  roomId: string;
  gatewayId: string;
  ledger: DownlinkLedger;
  logger: Logger;
  configKey: KeyObject | null;
  commands: MqttConfig['commands'];
  nowSec: () => number;
  nowMs: () => number;
  onRoomConfig?: (cfg: RoomConfig, info: { source: 'cloud' | 'persisted'; version: number }) => void | Promise<void>;
  commandTarget?: RemoteCommandTarget;
  /** Absent: the gateway has no `secureCards` block, and key downlinks are refused. */
  secureCardKeys?: SecureCardKeyTarget | null;
  reject(r: { topic: string; reason: RejectReasonCode; detail: string; ref?: string }): void;
  commandResult(r: Omit<CommandResult, 'v' | 'gatewayId' | 'at'>): void;
}

const versionSchema = z.number().int().nonnegative();
export const ROOM_CONFIG_VERSION_KEY = 'uplink.roomConfigVersion';
/** The room config version applied. Unreadable counts as none applied, as missing does. */
export const ROOM_CONFIG_VERSION = defineSetting(ROOM_CONFIG_VERSION_KEY, versionSchema);
/** The highest key message applied: a version number only, never a key. Unreadable counts as none. */
export const KEYS_VERSION = defineSetting('uplink.secureCardKeysVersion', versionSchema);
/** The remote command ids spent and still live (until their expiry plus skew). */
const USED_COMMANDS = defineSetting('uplink.usedCommandIds', z.array(z.strictObject({ id: z.string(), exp: z.number() })));
const MAX_USED_COMMANDS = 1000;

interface Handling {
  /** The message's effect is durable: the broker may be told it arrived. */
  stored(): void;
  /** It could not be stored: the broker must deliver it again. */
  notStored(e: Error): void;
  /** Work the message goes on with after it was acknowledged (a command on its machine). */
  then(p: Promise<void>): void;
}

/** SQLite's errors of a disk that cannot write now (full, failing, remounted read-only, busy). */
const TRANSIENT_SQLITE = new Set(['SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_NOMEM']);

function isTransientWriteError(e: unknown): e is Error & { code: string } {
  if (!(e instanceof Error) || !('code' in e) || typeof e.code !== 'string') return false;
  return TRANSIENT_SQLITE.has(e.code.split('_').slice(0, 2).join('_'));
}

class Refusal extends Error {
  constructor(
    readonly reason: RejectReasonCode,
    detail: string,
    readonly ref?: string,
  ) {
    super(detail);
  }
}

export class Downlinks {
  private readonly log: Logger;
  /**
   * Messages of one topic are handled one at a time, in arrival order: two configs must not
   * both pass the version check before either is persisted. Topics do not wait for each other.
   * A command holds its topic only while it is checked and its id spent; it is then carried out
   * in its machine's own queue (`machineChains`), so a command waiting for a vend on one machine
   * holds up neither the commands of other machines nor the acknowledgement of later messages.
   */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly machineChains = new Map<string, Promise<void>>();

  constructor(private readonly d: DownlinkDeps) {
    this.log = d.logger.child({ component: 'uplink-downlinks' });
    if (d.configKey === null) this.log.warn('no mqtt.configPublicKey: card lists, account snapshots, top-ups, configs and commands will all be refused (no_key)');
  }

  /** Never rejects: every failure becomes a reject report. Resolves when the message is fully handled. */
  handle(name: Exclude<DownName, 'ack'>, topic: string, raw: unknown): Promise<void> {
    return this.receive(name, topic, raw).done;
  }

  /**
   * As handle; `stored` resolves as soon as the message's effect is durable (for a command: its id
   * spent, before the machine is touched), which is when the broker may be told it arrived.
   */
  receive(name: Exclude<DownName, 'ack'>, topic: string, raw: unknown): { done: Promise<void>; stored: Promise<void> } {
    let stored: () => void = () => undefined;
    let notStored: (e: Error) => void = () => undefined;
    const storedP = new Promise<void>((resolve, reject) => {
      stored = resolve;
      notStored = reject;
    });
    // A rejection nobody waits for (handle()) must not become an unhandled one.
    storedP.catch(() => undefined);
    let after: Promise<void> = Promise.resolve();
    const head = (this.chains.get(name) ?? Promise.resolve())
      .then(() => this.handleOne(name, topic, raw, { stored, notStored, then: (p) => (after = p) }))
      .finally(stored);
    this.chains.set(name, head);
    return { done: head.then(() => after), stored: storedP };
  }

  private async handleOne(name: Exclude<DownName, 'ack'>, topic: string, raw: unknown, h: Handling): Promise<void> {
    try {
      await this.dispatch(name, raw, h);
    } catch (e) {
      if (isTransientWriteError(e)) {
        // The ledger could not write (a full or failing SD card): nothing was applied. The message
        // is left unacknowledged, so the broker delivers it again, rather than acknowledged and lost.
        this.log.error({ topic, err: e.message }, 'downlink not applied: the ledger cannot write; the broker will deliver it again');
        h.notStored(e);
      } else if (e instanceof Refusal) {
        this.log.warn({ topic, reason: e.reason, detail: e.message, ref: e.ref }, 'downlink refused');
        this.d.reject({ topic, reason: e.reason, detail: e.message, ref: e.ref });
      } else {
        const detail = e instanceof Error ? e.message : String(e);
        this.log.error({ topic, err: detail }, 'downlink could not be applied');
        this.d.reject({ topic, reason: 'apply_failed', detail: detail.slice(0, 500) });
      }
    }
  }

  private async dispatch(name: Exclude<DownName, 'ack'>, raw: unknown, h: Handling): Promise<void> {
    switch (name) {
      case 'cards': {
        const env = parse(DOWN_SCHEMAS.cards, raw);
        return this.cards(this.open(env.cards, env.sig, cardListSchema));
      }
      case 'accounts': {
        const env = parse(DOWN_SCHEMAS.accounts, raw);
        return this.accounts(this.open(env.accounts, env.sig, accountsSchema));
      }
      case 'topups': {
        const env = parse(DOWN_SCHEMAS.topups, raw);
        return this.topUps(this.open(env.topUps, env.sig, topUpsSchema));
      }
      case 'config':
        return this.config(parse(DOWN_SCHEMAS.config, raw));
      case 'commands':
        return this.command(parse(DOWN_SCHEMAS.commands, raw), h);
      case 'keys': {
        const env = parse(DOWN_SCHEMAS.keys, raw);
        return this.keys(this.open(env.keys, env.sig, keyDownlinkSchema));
      }
    }
  }

  /**
   * A signed money downlink: the signature with the cloud key first, then the inner text's
   * schema and room. Anything else is refused before the ledger sees it.
   */
  private open<T>(text: string, sig: string, schema: z.ZodType<T>): T {
    const r = verifySigned(text, sig, this.key(), schema, this.d.roomId);
    if (!r.ok) throw new Refusal(r.reason, r.detail);
    return r.value;
  }

  private cards(list: CardList): void {
    const { type: _type, roomId: _room, ...input } = list;
    const r = this.d.ledger.applyCardList(input);
    if (!r.ok) {
      const reason = r.reason === 'stale' ? 'old_version' : r.reason === 'base_mismatch' ? 'base_mismatch' : 'schema';
      throw new Refusal(reason, `card list ${list.version} refused (${r.reason}); current version ${r.currentVersion}`, String(list.version));
    }
    // A replay of the applied list changes nothing; it is reported so the cloud sees it.
    if (!r.applied) throw new Refusal('replayed', `card list ${list.version} is already applied`, String(list.version));
  }

  /** A message is applied whole or refused whole (naming the item that stopped it): a refusal changes nothing. */
  private accounts(msg: Accounts): void {
    const r = this.d.ledger.applyAccountSnapshots(msg.snapshots);
    if (!r.applied) throw new Refusal(r.reason, r.detail, r.ref.slice(0, 128));
    this.log.info({ snapshots: r.count }, 'account snapshots applied');
  }

  private topUps(msg: TopUps): void {
    const r = this.d.ledger.applyTopUps(msg.topUps);
    if (!r.applied) throw new Refusal(r.reason, r.detail, r.ref.slice(0, 128));
    this.log.info({ topUps: r.count }, 'top-ups applied');
  }

  /**
   * Secure-card keys: only a message newer than every one applied (the setting and the key file
   * both say which), so a replayed old message cannot bring back a retired key. Nothing about a
   * key is logged or reported: versions only.
   */
  private keys(msg: KeyDownlink): void {
    const target = this.d.secureCardKeys;
    if (target === undefined || target === null) throw new Refusal('apply_failed', 'this gateway has no secureCards block (keyFile) to keep keys in', String(msg.version));
    const current = Math.max(settingOrUndefined(this.d.ledger.readSetting(KEYS_VERSION)) ?? 0, target.appliedVersion());
    if (msg.version === current) throw new Refusal('replayed', `key message ${msg.version} is already applied`, String(msg.version));
    if (msg.version < current) throw new Refusal('old_version', `key message ${msg.version} is not newer than ${current}`, String(msg.version));
    const r = target.apply(msg);
    this.d.ledger.writeSetting(KEYS_VERSION, msg.version);
    this.log.info({ version: msg.version, keyVersions: r.versions }, 'secure-card keys applied');
  }

  private key(): KeyObject {
    if (this.d.configKey === null) throw new Refusal('no_key', 'no configPublicKey configured: signed downlinks cannot be checked');
    return this.d.configKey;
  }

  private async config(env: z.infer<(typeof DOWN_SCHEMAS)['config']>): Promise<void> {
    const r = verifySigned(env.config, env.sig, this.key(), roomConfigSchema, this.d.roomId);
    if (!r.ok) throw new Refusal(r.reason, r.detail);
    const cfg = r.value;
    const current = settingOrUndefined(this.d.ledger.readSetting(ROOM_CONFIG_VERSION)) ?? 0;
    if (cfg.version === current) {
      this.log.debug({ version: cfg.version }, 'room config re-delivered; already applied');
      return;
    }
    if (cfg.version < current) throw new Refusal('old_version', `room config version ${cfg.version} is not newer than ${current}`, String(cfg.version));
    // Applied first, persisted second: a callback that fails leaves the old version current,
    // so a re-delivery is tried again rather than skipped as already seen.
    await this.d.onRoomConfig?.(cfg, { source: 'cloud', version: cfg.version });
    persistRoomConfig(this.d.ledger, env);
    this.d.ledger.writeSetting(ROOM_CONFIG_VERSION, cfg.version);
    this.log.info({ version: cfg.version, pricing: cfg.pricing !== undefined, risk: cfg.risk !== undefined, qrTokens: cfg.qrTokens !== undefined }, 'room config applied');
  }

  private command(env: z.infer<(typeof DOWN_SCHEMAS)['commands']>, h: Handling): void {
    const r = verifySigned(env.command, env.sig, this.key(), remoteCommandSchema, this.d.roomId);
    if (!r.ok) throw new Refusal(r.reason, r.detail);
    const cmd = r.value;
    const { maxTtlSec, skewSec } = this.d.commands;
    const now = this.d.nowSec();
    if (cmd.expiresAtSec - cmd.issuedAtSec > maxTtlSec) throw new Refusal('schema', `command valid for longer than ${maxTtlSec} s`, cmd.id);
    if (now > cmd.expiresAtSec + skewSec) throw new Refusal('expired', 'command expired', cmd.id);
    if (cmd.issuedAtSec > now + skewSec) throw new Refusal('not_yet_valid', 'command issued in the future', cmd.id);
    this.consumeCommandId(cmd, now);
    // At most once: spent is durable, so the broker may forget it before the (slow) machine command.
    h.stored();
    const run = (this.machineChains.get(cmd.machineId) ?? Promise.resolve())
      .then(() => this.execute(cmd))
      .catch((e: unknown) => this.log.error({ commandId: cmd.id, err: e instanceof Error ? e.message : String(e) }, 'remote command failed'));
    const tail = run.finally(() => {
      if (this.machineChains.get(cmd.machineId) === tail) this.machineChains.delete(cmd.machineId);
    });
    this.machineChains.set(cmd.machineId, tail);
    h.then(run);
  }

  /** Write-ahead: the id is spent before the machine is touched, so a crash cannot run it twice. */
  private consumeCommandId(cmd: RemoteCommand, now: number): void {
    const used = this.usedCommandIds();
    if (used.some((u) => u.id === cmd.id)) throw new Refusal('replayed', 'command id already used', cmd.id);
    // An id only needs remembering while its command could still pass the expiry check.
    const live = used.filter((u) => u.exp + this.d.commands.skewSec >= now);
    if (live.length >= MAX_USED_COMMANDS) throw new Refusal('apply_failed', 'too many live commands; try again later', cmd.id);
    live.push({ id: cmd.id, exp: cmd.expiresAtSec });
    this.d.ledger.writeSetting(USED_COMMANDS, live);
  }

  /** Fails closed: an unreadable list of spent ids refuses commands rather than allowing replays. */
  private usedCommandIds(): { id: string; exp: number }[] {
    const stored = this.d.ledger.readSetting(USED_COMMANDS);
    if (stored.status === 'unreadable') throw new Refusal('apply_failed', 'the list of used command ids is unreadable');
    return stored.status === 'ok' ? stored.value : [];
  }

  private async execute(cmd: RemoteCommand): Promise<void> {
    let result: Omit<CommandResult, 'v' | 'gatewayId' | 'at'>;
    const base = { commandId: cmd.id, machineId: cmd.machineId, kind: cmd.kind };
    if (this.d.commandTarget === undefined) {
      result = { ...base, outcome: 'failed', reason: 'no_target', detail: 'this gateway takes no remote commands' };
    } else {
      try {
        const o = await this.d.commandTarget.command(cmd);
        result = { ...base, outcome: o.status, reason: o.reason?.slice(0, 64) ?? null, detail: o.detail?.slice(0, 500) ?? null };
      } catch (e) {
        result = { ...base, outcome: 'failed', reason: 'error', detail: (e instanceof Error ? e.message : String(e)).slice(0, 500) };
      }
    }
    this.log.info({ ...result }, 'remote command done');
    // Durable record too: the result reaches the cloud through the outbox even if the live publish is lost.
    try {
      this.d.ledger.enqueueEvent('remote_command', { ...result, at: this.d.nowMs() });
    } catch (e) {
      // The engine's own `command` record holds what the command did; this copy is the wire's.
      this.log.error({ commandId: cmd.id, err: e instanceof Error ? e.message : String(e) }, 'remote command result not stored');
    }
    this.d.commandResult(result);
  }
}

function parse<T>(schema: z.ZodType<T>, raw: unknown): T {
  const r = schema.safeParse(raw);
  if (!r.success) throw new Refusal('schema', describeIssues(r.error), refOf(raw));
  return r.data;
}

function refOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const o = raw as Record<string, unknown>;
  const v = o.id ?? o.version;
  return typeof v === 'string' || typeof v === 'number' ? String(v).slice(0, 128) : undefined;
}


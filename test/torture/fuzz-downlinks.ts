// Input 4: MQTT downlink payloads, on every downlink topic, through the entry MQTT messages take
// (Uplink's message handler: topic check, size limit, JSON, then the ack handler or Downlinks)
// over a real ledger file. Arbitrary bytes and JSON, and valid messages (built against the
// ledger's current versions) with structure-aware edits: fields replaced, removed, added or
// retyped, signed texts edited before signing (schema, room, version, expiry, replay) and after
// (signature). Nothing throws; a refusal is one reject message on up/reject with a reason code
// and a detail, and leaves the ledger as it was; valid messages take effect.
//
// The uplink runs against a closed broker port: its private message handler is called directly and its link's
// publish is replaced by a recorder. Both are looked up by name and checked at start, so a
// rename fails this input loudly rather than testing nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { silentLogger } from '../../gateway/core/log.js';
import { mqttConfigSchema } from '../../gateway/uplink/config-schema.js';
import { Uplink } from '../../gateway/uplink/uplink.js';
import type { CommandOutcome } from '../../gateway/profiles/types.js';
import { commandResultSchema, rejectSchema } from '../../protocols/mqtt/payloads.js';
import { signText } from '../../protocols/mqtt/signing.js';
import { SIGNED_DOWNLINKS } from '../../protocols/mqtt/sign-downlink.js';
import { DOWN_NAMES } from '../../protocols/mqtt/topics.js';
import type { Ledger } from '../../storage/index.js';
import { cloudKeys, testLedger } from '../uplink/helpers.js';
import { Tally, must, runProperties, type FuzzEnv, type FuzzProperty, type InputReport } from './fuzz-common.js';
import { applyJsonEdit, jsonEdit, type Json, type JsonEdit } from './fuzz-json.js';

const ROOM = 'room-1';
const PREFIX = 'laundry/v1';
const MAX_BYTES = 8192;
const ACCOUNTS = ['acct-1', 'acct-2', 'acct-3'];
const UIDS = ['04A1B2C3', '04A1B2C3D4E5F6', '0A0B0C0D0E'];
const ROOM_CONFIG_VERSION_KEY = 'uplink.roomConfigVersion';
const SETTINGS = [ROOM_CONFIG_VERSION_KEY, 'uplink.usedCommandIds', 'uplink.roomConfig'];

type Published = { topic: string; payload: string };
interface UplinkInternals {
  message(topic: string, payload: Buffer): void;
  link: { publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void> };
}

// ---- recipes: valid messages built at run time against the ledger's state ------------------------

type Kind = 'ack' | 'cards' | 'accounts' | 'topups' | 'config' | 'commands';
interface Recipe {
  kind: Kind;
  /** Seeds for the message's own values. */
  a: number;
  b: number;
  pick: number;
  /** Edits of the inner signed object (before signing), or of the message itself. */
  inner: JsonEdit[];
  outer: JsonEdit[];
  /** Signed messages: damage the signature or the signed text after signing. */
  afterSign: 'none' | 'sig' | 'text';
  /** Signed messages: a stale version, a wrong room, a replayed command id, expired, future. */
  twist: 'none' | 'old' | 'room' | 'replay' | 'expired' | 'future' | 'ttl' | 'type';
}

const recipeArb: fc.Arbitrary<Recipe> = fc.record({
  kind: fc.constantFrom<Kind>('ack', 'cards', 'accounts', 'topups', 'config', 'commands'),
  a: fc.nat(1_000_000),
  b: fc.nat(1_000_000),
  pick: fc.nat(),
  inner: fc.oneof({ weight: 3, arbitrary: fc.constant<JsonEdit[]>([]) }, { weight: 1, arbitrary: fc.array(jsonEdit, { minLength: 1, maxLength: 2 }) }),
  outer: fc.oneof({ weight: 2, arbitrary: fc.constant<JsonEdit[]>([]) }, { weight: 1, arbitrary: fc.array(jsonEdit, { minLength: 1, maxLength: 3 }) }),
  afterSign: fc.constantFrom<Recipe['afterSign']>('none', 'none', 'none', 'none', 'sig', 'text'),
  twist: fc.constantFrom<Recipe['twist']>('none', 'none', 'none', 'none', 'none', 'none', 'old', 'room', 'replay', 'expired', 'future', 'ttl', 'type'),
});

/** What a valid, unedited message must do to the ledger. */
type Effect =
  | { kind: 'ackedSeq'; value: number }
  | { kind: 'cardListVersion'; value: number }
  | { kind: 'topUp'; accountId: string; cents: number }
  | { kind: 'configVersion'; value: number }
  | { kind: 'commandRun'; id: string }
  | { kind: 'none' };

export async function fuzzDownlinks(env: FuzzEnv): Promise<InputReport> {
  const tally = new Tally();
  const extra = { 'valid messages applied': 0, 'refusals checked unchanged': 0, 'messages ignored (not a downlink topic)': 0 };
  const t0 = performance.now();
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(base, 'fuzz-downlinks-'));
  const ledger: Ledger = testLedger(join(dir, 'ledger.db'), ROOM);
  const keys = cloudKeys();
  let nowMs = 1_800_000_000_000;
  const clock = { now: () => nowMs, monotonic: () => nowMs };
  const nowSec = (): number => Math.floor(nowMs / 1000);
  let commandsRun = 0;
  let configsApplied = 0;
  const uplink = new Uplink({
    config: mqttConfigSchema.parse({ url: 'mqtt://127.0.0.1:1', configPublicKey: keys.publicB64, maxDownlinkBytes: MAX_BYTES }),
    roomId: ROOM,
    ledger,
    logger: silentLogger(),
    clock,
    nowSec,
    onRoomConfig: (cfg) => {
      // A part that cannot take the config: Downlinks must refuse it and keep the old version.
      if (cfg.pricing?.version === 'unusable') throw new Error('pricing refused by the engine');
      configsApplied++;
    },
    commandTarget: {
      command: ({ kind }): Promise<CommandOutcome> => {
        commandsRun++;
        if (kind === 'cancel') return Promise.reject(new Error('the machine went away'));
        return Promise.resolve(kind === 'pause' ? { status: 'rejected', reason: 'not_allowed', deviceCode: 7, detail: 'not running' } : { status: 'accepted', evidence: { profile: 'lw485', unit: 1, seq: 1, code: 6 } });
      },
    },
  });
  const internals = uplink as unknown as UplinkInternals;
  must(typeof internals.message === 'function' && typeof internals.link.publish === 'function', 'harness: Uplink has no message() or link.publish(): update fuzz-downlinks.ts');
  const published: Published[] = [];
  internals.link.publish = (topic, payload) => {
    published.push({ topic, payload: typeof payload === 'string' ? payload : payload.toString('utf8') });
    return Promise.resolve();
  };
  // Running, as in the daemon (acks are applied only by a running uplink); its broker is a
  // closed port, so the link just keeps retrying in the background.
  await uplink.start();
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);

  // Any commit by the ledger's connection moves data_version as seen from another connection:
  // a refused message must leave it where it was (no write at all, not just the same figures).
  const watcher = new Database(join(dir, 'ledger.db'), { readonly: true, fileMustExist: true });
  const dataVersion = watcher.prepare('PRAGMA data_version').pluck();
  const snapshot = (): string => String(dataVersion.get());
  /** The figures a reader sees; compared too, as a cross-check of the data_version watch. */
  const figures = (): string =>
    JSON.stringify({
      // oldestAgeMs moves with the clock; everything else may move only when a message is applied.
      outbox: { ...ledger.outbox.stats(), oldestAgeMs: null },
      audit: ledger.auditHead(),
      cards: ledger.cardListVersion(),
      cardRows: UIDS.map((u) => ledger.lookupCard(u) ?? null),
      settings: SETTINGS.map((k) => ledger.getSetting(k) ?? null),
      balances: ACCOUNTS.map((a) => ledger.balance(a) ?? null),
    });
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  const topic = (name: string, room = ROOM): string => `${PREFIX}/${room}/down/${name}`;
  let deliveries = 0;
  let cloudIds = 0;
  /** Cloud ids of top-ups the ledger took: a replay repeats one of these. */
  const appliedCloudIds: string[] = [];
  let commandIds = 0;
  const sentCommands: Json[] = [];

  /** One message through the uplink's entry; checks the verdict and returns the refusal reason, if any. */
  const deliver = async (t: string, payload: Buffer, expect: Effect | null, mustRefuse: boolean): Promise<'taken' | 'refused' | 'ignored'> => {
    nowMs += 1000;
    // The full figures on one message in eight: they cost far more than the data_version watch.
    const deep = deliveries++ % 8 === 0;
    const before = snapshot();
    const figuresBefore = deep ? figures() : '';
    const accountBefore = expect?.kind === 'topUp' ? ledger.balance(expect.accountId) : undefined;
    const balanceBefore = accountBefore?.balanceCents ?? 0;
    published.length = 0;
    internals.message(t, payload);
    await settle();
    must(unhandled.length === 0, () => `unhandled rejection: ${String(unhandled[0])}`);
    const rejects = published.filter((p) => p.topic === `${PREFIX}/${ROOM}/up/reject`);
    must(rejects.length <= 1, `${rejects.length} rejects for one message`);
    const reject = rejects[0];
    if (reject !== undefined) {
      const r = rejectSchema.safeParse(JSON.parse(reject.payload));
      must(r.success, 'a reject message that does not match its own schema');
      must(r.data.reason.length > 0 && r.data.detail.length > 0, 'a reject without a reason or detail');
      must(r.data.topic === t.slice(0, 256), 'a reject naming another topic');
      must(snapshot() === before, () => `the ledger was written although the message was refused (${r.data.reason}: ${r.data.detail})`);
      must(!deep || figures() === figuresBefore, () => `the ledger's figures changed although the message was refused (${r.data.reason})`);
      must(expect === null, () => `a valid message was refused: ${r.data.reason}: ${r.data.detail}`);
      extra['refusals checked unchanged']++;
      tally.reject(r.data.reason);
      return 'refused';
    }
    const ours = t.startsWith(`${PREFIX}/${ROOM}/down/`) && (DOWN_NAMES as readonly string[]).includes(t.slice(`${PREFIX}/${ROOM}/down/`.length));
    if (!ours) {
      must(published.length === 0 && snapshot() === before, 'a message on a foreign topic was acted on');
      extra['messages ignored (not a downlink topic)']++;
      tally.reject('ignored: not a downlink topic of this room');
      return 'ignored';
    }
    must(!mustRefuse, 'a message that must be refused was taken');
    if (t.endsWith('/topups') || t.endsWith('/accounts')) {
      // Money stays exact: every balance a taken message touched is a safe integer.
      for (const a of ACCOUNTS) {
        const b = ledger.balance(a);
        must(b === undefined || (Number.isSafeInteger(b.balanceCents) && Number.isSafeInteger(b.points)), () => `balance of ${a} is no longer exact: ${JSON.stringify(b)}`);
      }
    }
    if (expect !== null) {
      switch (expect.kind) {
        case 'ackedSeq':
          must(ledger.outbox.stats().ackedSeq === expect.value, () => `acked seq ${ledger.outbox.stats().ackedSeq}, expected ${expect.value}`);
          break;
        case 'cardListVersion':
          must(ledger.cardListVersion() === expect.value, `card list version ${ledger.cardListVersion()}, expected ${expect.value}`);
          break;
        case 'topUp': {
          const after = ledger.balance(expect.accountId)?.balanceCents ?? 0;
          must(after - balanceBefore === expect.cents, () => `top-up of ${expect.cents} moved the balance by ${after - balanceBefore}: ${JSON.stringify(accountBefore)} -> ${JSON.stringify(ledger.balance(expect.accountId))}`);
          break;
        }
        case 'configVersion':
          must(ledger.getNumberSetting(ROOM_CONFIG_VERSION_KEY) === expect.value, 'a newer signed config did not become current');
          break;
        case 'commandRun': {
          const res = published.filter((p) => p.topic === `${PREFIX}/${ROOM}/up/command-result`).map((p) => commandResultSchema.parse(JSON.parse(p.payload)));
          must(res.length === 1 && res[0]?.commandId === expect.id, 'a valid command produced no result');
          break;
        }
        case 'none':
          break;
      }
      extra['valid messages applied']++;
    }
    tally.accept();
    return 'taken';
  };

  /** A money downlink as the cloud signs it, with the recipe's inner edits, twists and damage. */
  const seal = (name: 'cards' | 'accounts' | 'topups', body: { [k: string]: Json }, r: Recipe): { msg: Json; twisted: boolean; damaged: boolean } => {
    const { field, type } = SIGNED_DOWNLINKS[name];
    let inner: Json = { type: r.twist === 'type' ? 'room-config' : type, roomId: r.twist === 'room' ? 'room-2' : ROOM, ...body };
    for (const e of r.inner) inner = applyJsonEdit(inner, e);
    const text = JSON.stringify(inner);
    const sig = r.afterSign === 'sig' ? signText(keys.privateKey, `${text} `) : signText(keys.privateKey, text);
    const sent = r.afterSign === 'text' ? `${text.slice(0, -1)} ${text.slice(-1)}` : text;
    return { msg: { v: 1, [field]: sent, sig }, twisted: r.twist === 'type' || r.twist === 'room', damaged: r.afterSign !== 'none' };
  };

  /** Builds the message a recipe describes against the ledger's state now. */
  const build = (r: Recipe): { name: Kind; payload: Json; expect: Effect | null; mustRefuse: boolean; cloudIds?: string[] } => {
    const acct = ACCOUNTS[r.pick % ACCOUNTS.length] ?? 'acct-1';
    const edited = r.outer.length > 0 || r.inner.length > 0;
    const stats = ledger.outbox.stats();
    switch (r.kind) {
      case 'ack': {
        const upTo = r.a % (stats.lastSeq + 3);
        // Now and then the cloud refuses a record of the batch: it goes to the dead letters.
        const rejected: Json[] = r.b % 6 === 1 && upTo > stats.ackedSeq ? [{ seq: upTo, reason: 'invalid record' }] : [];
        const msg: Json = { v: 1, gatewayId: r.twist === 'room' ? 'room-2' : ROOM, upToSeq: upTo, batchId: `${upTo}`, ...(r.b % 4 === 0 ? { cloudTimeSec: nowSec() } : {}), ...(rejected.length > 0 ? { rejected } : {}) };
        const expect: Effect = { kind: 'ackedSeq', value: Math.max(stats.ackedSeq, Math.min(upTo, stats.lastSeq)) };
        return { name: 'ack', payload: msg, expect: edited || r.twist === 'room' ? null : expect, mustRefuse: !edited && r.twist === 'room' };
      }
      case 'cards': {
        const cur = ledger.cardListVersion();
        // old: below the current version, or the current one again (a replay).
        const version = r.twist === 'old' ? Math.max(0, cur - (r.a % 2)) : cur + 1 + (r.a % 3);
        const cards: Json[] = UIDS.filter((_, i) => (r.b >> i) & 1).map((uid, i) => ({ uid, accountId: ACCOUNTS[i % ACCOUNTS.length] ?? 'acct-1', status: (['active', 'lost', 'blocked'] as const)[(r.a + i) % 3] ?? 'active' }));
        const diff = r.pick % 2 === 0;
        const body: Json = diff ? { kind: 'diff', version, baseVersion: cur, cards: [...cards, ...(r.a % 5 === 0 ? [{ uid: UIDS[0] ?? '04A1B2C3', remove: true }] : [])] } : { kind: 'full', version, cards };
        const s = seal('cards', body, r);
        const valid = !edited && !s.twisted && !s.damaged && r.twist !== 'old' && Number.isSafeInteger(version) && version > 0;
        return { name: 'cards', payload: s.msg, expect: valid ? { kind: 'cardListVersion', value: version } : null, mustRefuse: r.outer.length === 0 && ((r.inner.length === 0 && (s.twisted || (r.twist === 'old' && cur >= 1))) || s.damaged) };
      }
      case 'accounts': {
        const cur = ledger.balance(acct)?.snapshotVersion ?? 0;
        const version = r.twist === 'old' ? Math.max(1, cur - (r.a % 2)) : cur + 1 + (r.a % 3);
        // Covering every record so far never goes back and never beyond the outbox.
        const body: Json = { snapshots: [{ accountId: acct, version, balanceCents: (r.b % 20000) - 1000, points: r.b % 50, tier: 'standard', coveredSeq: stats.lastSeq, ...(r.pick % 3 === 0 ? { memberSinceMs: nowMs - 86_400_000 } : {}) }] };
        const s = seal('accounts', body, r);
        const valid = !edited && !s.twisted && !s.damaged && r.twist !== 'old';
        return { name: 'accounts', payload: s.msg, expect: valid ? { kind: 'none' } : null, mustRefuse: r.outer.length === 0 && ((r.inner.length === 0 && (s.twisted || (r.twist === 'old' && cur >= 1))) || s.damaged) };
      }
      case 'topups': {
        // One to three top-ups of one account, booked after its snapshot; a replay repeats an
        // earlier cloud id, and the whole message is refused.
        const count = 1 + (r.b % 3);
        const version = ledger.balance(acct)?.snapshotVersion ?? 0;
        const entries: { cloudId: string; accountId: string; amountCents: number; accountVersion: number }[] = [];
        let replayed = false;
        for (let k = 0; k < count; k++) {
          const earlier = appliedCloudIds[r.b % Math.max(1, appliedCloudIds.length)];
          const replay = r.twist === 'replay' && k === 0 && earlier !== undefined;
          replayed ||= replay;
          const cloudId = replay && earlier !== undefined ? earlier : `topup-${++cloudIds}`;
          const amountCents = 1 + ((r.a * (k + 1)) % 10_000);
          entries.push({ cloudId, accountId: acct, amountCents, accountVersion: version + 1 + k });
        }
        const s = seal('topups', { topUps: entries }, r);
        const cents = entries.reduce((n, e) => n + e.amountCents, 0);
        const valid = !edited && !s.twisted && !s.damaged && !replayed;
        return { name: 'topups', payload: s.msg, expect: valid ? { kind: 'topUp', accountId: acct, cents } : null, mustRefuse: r.outer.length === 0 && ((r.inner.length === 0 && (s.twisted || replayed)) || s.damaged), cloudIds: entries.map((e) => e.cloudId) };
      }
      case 'config': {
        // An edited config the cloud key signed may have taken the version to the top of the
        // range, after which no config is newer: start the count again (a harness write, made
        // before the message's own before/after watch).
        if ((ledger.getNumberSetting(ROOM_CONFIG_VERSION_KEY) ?? 0) > 2 ** 40) ledger.setNumberSetting(ROOM_CONFIG_VERSION_KEY, 1);
        const cur = ledger.getNumberSetting(ROOM_CONFIG_VERSION_KEY) ?? 0;
        const version = r.twist === 'old' ? Math.max(1, cur - 1) : cur + 1;
        let inner: Json = {
          type: r.twist === 'type' ? 'remote-command' : 'room-config',
          roomId: r.twist === 'room' ? 'room-2' : ROOM,
          version,
          issuedAtSec: nowSec(),
          ...(r.b % 3 === 0 ? { qrTokens: { keys: [] } } : {}),
          ...(r.b % 7 === 1 ? { pricing: { version: 'unusable', base: [{ id: 'w', kind: 'washer', program: 1, priceCents: 100 }] } } : {}),
        };
        for (const e of r.inner) inner = applyJsonEdit(inner, e);
        const text = JSON.stringify(inner);
        const sig = r.afterSign === 'sig' ? signText(keys.privateKey, `${text} `) : signText(keys.privateKey, text);
        const msg: Json = { v: 1, config: r.afterSign === 'text' ? text.replace(/\d(?=[^\d]*$)/, (d) => String((Number(d) + 1) % 10)) : text, sig };
        const twisted = r.twist === 'type' || r.twist === 'room' || (r.twist === 'old' && cur > 1);
        const damaged = r.afterSign !== 'none';
        const unusable = r.b % 7 === 1;
        const valid = !edited && !twisted && !damaged && !unusable && r.twist !== 'old' && Number.isSafeInteger(version);
        return { name: 'config', payload: msg, expect: valid ? { kind: 'configVersion', value: version } : null, mustRefuse: r.outer.length === 0 && ((r.inner.length === 0 && (twisted || (unusable && version > cur))) || damaged) };
      }
      case 'commands': {
        // A replay is the very message delivered before: refused as replayed, or expired by now.
        const earlier = sentCommands[r.b % Math.max(1, sentCommands.length)];
        if (r.twist === 'replay' && earlier !== undefined) return { name: 'commands', payload: earlier, expect: null, mustRefuse: r.outer.length === 0 };
        const kinds = ['start', 'pause', 'resume', 'addTime', 'cancel'] as const;
        const kind = kinds[r.a % kinds.length] ?? 'start';
        const id = `cmd-${++commandIds}`;
        const now = nowSec() + 1; // deliver() moves the clock on by a second first
        const issued = r.twist === 'future' ? now + 3600 : r.twist === 'expired' ? now - 7200 : now - (r.b % 20);
        const expires = r.twist === 'ttl' ? issued + 7200 : issued + 60 + (r.b % 600);
        let inner: Json = {
          type: r.twist === 'type' ? 'room-config' : 'remote-command',
          roomId: r.twist === 'room' ? 'room-2' : ROOM,
          id,
          machineId: 'W1',
          kind,
          ...(kind === 'addTime' ? { args: { minutes: 1 + (r.b % 240), amountCents: r.a % 1000 } } : {}),
          issuedAtSec: issued,
          expiresAtSec: expires,
        };
        for (const e of r.inner) inner = applyJsonEdit(inner, e);
        const text = JSON.stringify(inner);
        const sig = r.afterSign === 'sig' ? signText(keys.privateKey, `${text} `) : signText(keys.privateKey, text);
        const msg: Json = { v: 1, command: r.afterSign === 'text' ? text.replace('W1', 'W2') : text, sig };
        const twisted = r.twist === 'future' || r.twist === 'expired' || r.twist === 'ttl' || r.twist === 'type' || r.twist === 'room';
        const damaged = r.afterSign !== 'none';
        const valid = !edited && !twisted && !damaged;
        if (valid) sentCommands.push(msg);
        return { name: 'commands', payload: msg, expect: valid ? { kind: 'commandRun', id } : null, mustRefuse: r.outer.length === 0 && r.inner.length === 0 && (twisted || damaged) };
      }
    }
  };

  const props: FuzzProperty[] = [
    {
      id: 'downlinks.recipes',
      weight: 5,
      property: () =>
        fc.asyncProperty(recipeArb, async (r) => {
          // Records to acknowledge now and then, as vends would add them.
          if (r.pick % 5 === 0) ledger.enqueueEvent('fuzz.vend', { n: r.a });
          const m = build(r);
          let payload = m.payload;
          for (const e of r.outer) payload = applyJsonEdit(payload, e);
          const verdict = await deliver(topic(m.name), Buffer.from(JSON.stringify(payload)), m.expect, m.mustRefuse);
          if (verdict === 'taken' && r.outer.length === 0 && r.inner.length === 0 && m.cloudIds) appliedCloudIds.push(...m.cloudIds);
          return true;
        }),
    },
    {
      id: 'downlinks.arbitrary-json',
      weight: 3,
      property: () =>
        fc.asyncProperty(fc.constantFrom(...DOWN_NAMES), fc.jsonValue({ maxDepth: 4 }), async (name, v) => {
          await deliver(topic(name), Buffer.from(JSON.stringify(v) ?? 'null'), null, false);
          return true;
        }),
    },
    {
      id: 'downlinks.arbitrary-bytes',
      weight: 1,
      property: () =>
        fc.asyncProperty(
          fc.oneof(fc.constantFrom(...DOWN_NAMES).map((n) => topic(n)), fc.constantFrom(topic('cards', 'room-2'), `${PREFIX}/${ROOM}/up/batch`, `${PREFIX}/${ROOM}/down/other`, `${PREFIX}/${ROOM}/down`, '', '#', `${PREFIX}/${ROOM}/down/cards/x`), fc.string({ maxLength: 60 })),
          fc.oneof(
            fc.uint8Array({ maxLength: 300, size: 'max' }),
            fc.string({ unit: 'binary', maxLength: 300, size: 'max' }).map((s) => new TextEncoder().encode(s)),
            fc.integer({ min: MAX_BYTES - 2, max: MAX_BYTES + 4 }).map((n) => new TextEncoder().encode(`"${'x'.repeat(n - 2)}"`)),
          ),
          async (t, bytes) => {
            await deliver(t, Buffer.from(bytes), null, false);
            return true;
          },
        ),
    },
  ];

  try {
    const { runs, violations } = await runProperties(env, props);
    // The ledger itself, after everything: still sound.
    const audit = ledger.verifyAudit();
    const self = ledger.selfCheck();
    const integrity = ledger.integrityCheck();
    if (!audit.ok || !self.ok || !integrity.ok) violations.push(`downlinks: ledger unsound after the run: audit ${JSON.stringify(audit).slice(0, 200)}, self-check ${JSON.stringify(self).slice(0, 200)}, integrity ${JSON.stringify(integrity).slice(0, 200)}`);
    Object.assign(extra, { 'commands run on the machine target': commandsRun, 'room configs applied': configsApplied, 'outbox records after the run': ledger.outbox.stats().depth });
    return { input: 'downlinks', title: 'MQTT downlink payloads through the uplink entry against a real ledger', runs, seconds: (performance.now() - t0) / 1000, tally, extra, violations };
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await uplink.stop();
    watcher.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

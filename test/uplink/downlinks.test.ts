// Downlinks over a real Mosquitto: hostile messages change nothing and are reported on
// up/reject; signed configs are applied once, in version order; top-ups credit once; remote
// commands are refused when replayed or expired and otherwise run through the target.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMosquitto, type Broker } from '../helpers/mosquitto.js';
import type { RoomConfig } from '../../gateway/uplink/room-config.js';
import type { RemoteCommandTarget } from '../../gateway/uplink/downlinks.js';
import type { CloudConsumer } from '../../simulator/cloud/consumer.js';
import type { Uplink } from '../../gateway/uplink/uplink.js';
import type { Ledger } from '../../storage/index.js';
import { signDownlink } from '../../protocols/mqtt/sign-downlink.js';
import { ROOM, cloudKeys, makeConsumer, makeUplink, tempDir, testLedger, waitFor } from './helpers.js';

let broker: Broker;
before(async () => {
  broker = await startMosquitto();
});
after(async () => {
  await broker.close();
});

const PRICING = { version: 'rs-2', base: [{ id: 'wash', kind: 'washer', program: 1, priceCents: 350 }] };

interface Rig {
  ledger: Ledger;
  cloud: CloudConsumer;
  up: Uplink;
  configs: { cfg: RoomConfig; source: string }[];
  commands: { machineId: string; kind: string; args: unknown }[];
  cloudTimes: number[];
  close(): Promise<void>;
}

async function rig(opts: { key?: 'right' | 'none'; target?: RemoteCommandTarget } = {}): Promise<Rig> {
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  const configs: Rig['configs'] = [];
  const commands: Rig['commands'] = [];
  const cloudTimes: number[] = [];
  const target: RemoteCommandTarget = opts.target ?? {
    command: ({ machineId, kind, args }) => {
      commands.push({ machineId, kind, args });
      return Promise.resolve({ status: 'accepted', evidence: { profile: 'lw485', unit: 1, seq: 1, code: 1 } });
    },
  };
  const up = makeUplink(
    ledger,
    broker.url,
    { onRoomConfig: (cfg, info) => void configs.push({ cfg, source: info.source }), onCloudTime: (s) => void cloudTimes.push(s), commandTarget: target },
    opts.key === 'none' ? {} : { configPublicKey: keys.publicB64 },
  );
  await up.start();
  await waitFor(() => up.stats().connected, 'connected');
  // The subscription is in place once our own status has made the round trip.
  await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
  return {
    ledger,
    cloud,
    up,
    configs,
    commands,
    cloudTimes,
    close: async () => {
      await up.stop();
      await cloud.stop();
      ledger.close();
      t.cleanup();
    },
  };
}

function rejects(r: Rig): { reason: string; topic: string; ref?: string }[] {
  return r.cloud.received.reject.map((x) => ({ reason: x.payload.reason, topic: x.payload.topic, ref: x.payload.ref }));
}

test('hostile downlinks change nothing and are each reported on up/reject with a reason', async () => {
  const r = await rig();
  try {
    const before = { cards: r.ledger.cardListVersion(), stats: r.ledger.outbox.stats() };
    const other = cloudKeys();
    const goodText = JSON.stringify({ type: 'room-config', roomId: ROOM, version: 5, issuedAtSec: 1, pricing: PRICING });
    const forged = JSON.stringify({ v: 1, config: goodText, sig: Buffer.from(new Uint8Array(64).fill(1)).toString('base64url') });
    const wrongKey = new (await import('../../simulator/cloud/consumer.js')).CloudConsumer({ url: broker.url, dbPath: ':memory:', signingKey: other.privateKey }).signedConfig(ROOM, { version: 6, issuedAtSec: 1, pricing: PRICING });
    await r.cloud.publishDown(ROOM, 'cards', '{"v":1,"kind":"full",');
    await r.cloud.publishDown(ROOM, 'cards', JSON.stringify({ v: 1, kind: 'full', version: 3, cards: [{ uid: '04A2B9C1', accountId: 'a1', status: 'active', pin: '1234' }] }));
    await r.cloud.publishDown(ROOM, 'topups', JSON.stringify({ v: 1, topUps: [{ cloudId: 't1', accountId: 'a1', amountCents: 1.5 }] }));
    await r.cloud.publishDown(ROOM, 'topups', Buffer.alloc(300 * 1024, 0x20));
    await r.cloud.publishDown(ROOM, 'config', forged);
    await r.cloud.publishDown(ROOM, 'config', wrongKey);
    await r.cloud.publishDown(ROOM, 'config', r.cloud.signedConfig(ROOM, { version: 2, issuedAtSec: 1, pricing: { ...PRICING, base: [] } }));
    await r.cloud.publishDown(ROOM, 'config', r.cloud.signedConfig('room-2', { version: 2, issuedAtSec: 1, pricing: PRICING }));
    await r.cloud.publishDown(ROOM, 'ack', JSON.stringify({ v: 1, gatewayId: ROOM, upToSeq: -1 }));
    await waitFor(() => r.cloud.received.reject.length >= 9, 'nine rejects');
    const reasons = rejects(r).map((x) => `${x.topic.split('/').pop()}:${x.reason}`);
    assert.deepEqual(reasons, ['cards:malformed_json', 'cards:schema', 'topups:schema', 'topups:oversized', 'config:bad_signature', 'config:bad_signature', 'config:schema', 'config:wrong_room', 'ack:schema']);
    assert.equal(r.configs.length, 0);
    assert.equal(r.ledger.cardListVersion(), before.cards);
    assert.equal(r.ledger.balance('a1'), undefined);
    assert.equal(r.ledger.outbox.stats().lastSeq, before.stats.lastSeq, 'no record was written');
    assert.equal(r.ledger.getSetting('uplink.roomConfigVersion'), undefined);
  } finally {
    await r.close();
  }
});

test('issue 13.2: unsigned, forged, re-aimed or replayed money downlinks are refused and change nothing', async () => {
  const r = await rig();
  try {
    const other = cloudKeys();
    const before = { cards: r.ledger.cardListVersion(), lastSeq: r.ledger.outbox.stats().lastSeq };
    const topUp = { cloudId: 'evil-1', accountId: 'a1', amountCents: 2000, accountVersion: 1 };
    const snapshot = { accountId: 'a1', version: 9, balanceCents: 200_000, points: 0, tier: 'std', coveredSeq: 0 };
    const list = { kind: 'full' as const, version: 9, cards: [{ uid: '04A2B9C1', accountId: 'a1', status: 'active' as const }] };
    // The exact attack: one plain publish on down/topups (and its twins for accounts and cards).
    await r.cloud.publishDown(ROOM, 'topups', JSON.stringify({ v: 1, topUps: [topUp] }));
    await r.cloud.publishDown(ROOM, 'accounts', JSON.stringify({ v: 1, snapshots: [snapshot] }));
    await r.cloud.publishDown(ROOM, 'cards', JSON.stringify({ v: 1, ...list }));
    // Signed with another key; signed text edited after signing; signed for another room;
    // a text signed for one topic sent on another.
    const wrongKey = signDownlink(other.privateKey, 'topups', ROOM, { topUps: [topUp] }).envelope;
    const edited = JSON.parse(r.cloud.signedTopUps(ROOM, [topUp])) as { topUps: string };
    edited.topUps = edited.topUps.replace('2000', '9000');
    const aimed = r.cloud.signedAccounts('room-2', [snapshot]);
    const swapped = JSON.parse(r.cloud.signedCards(ROOM, list)) as { cards: string; sig: string };
    await r.cloud.publishDown(ROOM, 'topups', wrongKey);
    await r.cloud.publishDown(ROOM, 'topups', JSON.stringify(edited));
    await r.cloud.publishDown(ROOM, 'accounts', aimed);
    await r.cloud.publishDown(ROOM, 'topups', JSON.stringify({ v: 1, topUps: swapped.cards, sig: swapped.sig }));
    await waitFor(() => r.cloud.received.reject.length >= 7, 'seven refusals');
    assert.deepEqual(
      rejects(r).map((x) => `${x.topic.split('/').pop()}:${x.reason}`).sort(),
      ['accounts:schema', 'accounts:wrong_room', 'cards:schema', 'topups:bad_signature', 'topups:bad_signature', 'topups:schema', 'topups:schema'],
    );
    assert.equal(r.ledger.balance('a1'), undefined, 'no balance came into being');
    assert.equal(r.ledger.cardListVersion(), before.cards);
    assert.equal(r.ledger.outbox.stats().lastSeq, before.lastSeq, 'no record was written');

    // Signed right: applied once; the same signed message again is a replay and changes nothing.
    const signed = r.cloud.signedTopUps(ROOM, [topUp]);
    await r.cloud.publishDown(ROOM, 'topups', signed);
    await waitFor(() => r.ledger.balance('a1')?.balanceCents === 2000, 'signed top-up applied');
    const seqAfter = r.ledger.outbox.stats().lastSeq;
    await r.cloud.publishDown(ROOM, 'topups', signed);
    await r.cloud.publishCards(ROOM, list);
    await waitFor(() => r.ledger.cardListVersion() === 9, 'signed card list applied');
    await r.cloud.publishCards(ROOM, list);
    await r.cloud.publishCards(ROOM, { ...list, version: 8 });
    await r.cloud.publishAccounts(ROOM, [{ ...snapshot, balanceCents: 500, coveredSeq: seqAfter }]);
    await waitFor(() => r.ledger.balance('a1')?.snapshotVersion === 9, 'signed snapshot applied');
    await r.cloud.publishAccounts(ROOM, [{ ...snapshot, balanceCents: 500, coveredSeq: seqAfter }]);
    await r.cloud.publishAccounts(ROOM, [{ ...snapshot, version: 8, balanceCents: 7, coveredSeq: seqAfter }]);
    await r.cloud.publishTopUps(ROOM, [{ ...topUp, cloudId: 'in-snapshot', accountVersion: 9 }]);
    await waitFor(() => r.cloud.received.reject.length >= 13, 'six more refusals');
    assert.deepEqual(
      rejects(r).slice(7).map((x) => `${x.topic.split('/').pop()}:${x.reason}:${x.ref ?? ''}`).sort(),
      ['accounts:old_version:a1', 'accounts:replayed:a1', 'cards:old_version:8', 'cards:replayed:9', 'topups:old_version:in-snapshot', 'topups:replayed:evil-1'],
    );
    // The snapshot at version 9 holds the top-up (version 1): 500, not 2500.
    assert.equal(r.ledger.balance('a1')?.balanceCents, 500);
    assert.equal(r.ledger.outbox.stats().lastSeq, seqAfter, 'nothing refused wrote a record');
  } finally {
    await r.close();
  }
});

test('a signed room config is applied once, persisted, and an older version is refused', async () => {
  const r = await rig();
  try {
    await r.cloud.publishConfig(ROOM, { version: 3, issuedAtSec: 100, pricing: PRICING, risk: { offline: { cardCapCents: 1000 } } });
    await waitFor(() => r.configs.length === 1, 'config applied');
    assert.equal(r.configs[0]?.cfg.version, 3);
    assert.equal(r.configs[0]?.cfg.risk?.offline.cardCapCents, 1000);
    assert.equal(r.configs[0]?.cfg.risk?.offline.roomCapCents, 30_000, 'defaults filled by the risk schema');
    await r.cloud.publishConfig(ROOM, { version: 3, issuedAtSec: 100, pricing: PRICING });
    await r.cloud.publishConfig(ROOM, { version: 2, issuedAtSec: 100, pricing: PRICING });
    await waitFor(() => r.cloud.received.reject.length === 1, 'old version refused');
    assert.equal(rejects(r)[0]?.reason, 'old_version');
    assert.equal(r.configs.length, 1, 'a re-delivery of the current version is silent and not re-applied');
    assert.equal(r.ledger.getNumberSetting('uplink.roomConfigVersion'), 3);
  } finally {
    await r.close();
  }
});

test('the persisted config is handed over again at start, re-verified', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const path = t.file('ledger.db');
  const ledger = testLedger(path);
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  const seen: string[] = [];
  const mk = () => makeUplink(ledger, broker.url, { onRoomConfig: (c, i) => void seen.push(`${i.source}:${c.version}`) }, { configPublicKey: keys.publicB64 });
  let up = mk();
  await up.start();
  try {
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    await cloud.publishConfig(ROOM, { version: 7, issuedAtSec: 1, pricing: PRICING });
    await waitFor(() => seen.length === 1, 'applied');
    await up.stop();
    up = mk();
    await up.start();
    assert.deepEqual(seen, ['cloud:7', 'persisted:7']);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a re-delivered top-up credits once; card lists and account snapshots go to the ledger', async () => {
  const r = await rig();
  try {
    await r.cloud.publishCards(ROOM, { kind: 'full', version: 1, cards: [{ uid: '04A2B9C1D25E80', accountId: 'acc-1', status: 'active' }] });
    await r.cloud.publishAccounts(ROOM, [{ accountId: 'acc-1', version: 1, balanceCents: 1000, points: 0, tier: 'std', coveredSeq: 0 }]);
    await waitFor(() => r.ledger.balance('acc-1')?.snapshotVersion === 1, 'snapshot applied');
    for (let i = 0; i < 3; i++) await r.cloud.publishTopUps(ROOM, [{ cloudId: 'top-1', accountId: 'acc-1', amountCents: 500, accountVersion: 2 }]);
    await r.cloud.publishCards(ROOM, { kind: 'diff', version: 2, baseVersion: 1, cards: [{ uid: '04A2B9C1D25E80', remove: true }] });
    await waitFor(() => r.ledger.cardListVersion() === 2, 'diff applied');
    assert.equal(r.ledger.balance('acc-1')?.balanceCents, 1500);
    assert.equal(r.ledger.lookupCard('04A2B9C1D25E80'), undefined);
    await r.cloud.publishCards(ROOM, { kind: 'diff', version: 4, baseVersion: 3, cards: [] });
    await waitFor(() => r.cloud.received.reject.length === 3, 'two replayed top-ups and the diff on the wrong base refused');
    assert.deepEqual(rejects(r).map((x) => [x.reason, x.ref]).sort(), [['base_mismatch', '4'], ['replayed', 'top-1'], ['replayed', 'top-1']]);
    // The top-up was booked once and goes upstream once.
    await waitFor(() => r.cloud.records(ROOM).some((x) => x.type === 'account.topup'), 'top-up record upstream');
    assert.equal(r.cloud.records(ROOM).filter((x) => x.type === 'account.topup').length, 1);
    await waitFor(() => r.cloudTimes.length >= 1, 'cloud time handed over from an ack');
  } finally {
    await r.close();
  }
});

test('remote commands: executed once with a result; replayed, expired, forged or keyless ones are refused', async () => {
  const r = await rig();
  try {
    const now = Math.floor(Date.now() / 1000);
    const cmd = { id: 'cmd-1', machineId: 'W1', kind: 'start' as const, issuedAtSec: now, expiresAtSec: now + 60 };
    await r.cloud.publishCommand(ROOM, cmd);
    await waitFor(() => r.cloud.received['command-result'].length === 1, 'result');
    assert.deepEqual(r.commands, [{ machineId: 'W1', kind: 'start', args: undefined }]);
    assert.equal(r.cloud.received['command-result'][0]?.payload.outcome, 'accepted');
    await r.cloud.publishCommand(ROOM, cmd);
    await r.cloud.publishCommand(ROOM, { ...cmd, id: 'cmd-2', issuedAtSec: now - 600, expiresAtSec: now - 300 });
    await r.cloud.publishCommand(ROOM, { ...cmd, id: 'cmd-3', kind: 'addTime', args: { minutes: 10, amountCents: 100 }, issuedAtSec: now, expiresAtSec: now + 86_000 });
    const tampered = JSON.parse(r.cloud.signedCommand(ROOM, { ...cmd, id: 'cmd-4' })) as { command: string };
    tampered.command = tampered.command.replace('W1', 'W2');
    await r.cloud.publishDown(ROOM, 'commands', JSON.stringify(tampered));
    await r.cloud.publishCommand(ROOM, { ...cmd, id: 'cmd-5', kind: 'addTime', args: { minutes: 10, amountCents: 100 } });
    await waitFor(() => r.cloud.received.reject.length === 4 && r.cloud.received['command-result'].length === 2, 'refusals and the second result');
    assert.deepEqual(
      rejects(r).map((x) => [x.reason, x.ref]),
      [
        ['replayed', 'cmd-1'],
        ['expired', 'cmd-2'],
        ['schema', 'cmd-3'],
        ['bad_signature', undefined],
      ],
    );
    assert.deepEqual(r.commands.map((c) => c.kind), ['start', 'addTime']);
    assert.deepEqual(r.commands[1]?.args, { minutes: 10, amountCents: 100 });
    // The results also travel through the outbox, durably.
    await waitFor(() => r.cloud.records(ROOM).filter((x) => x.type === 'remote_command').length === 2, 'results upstream');
  } finally {
    await r.close();
  }
});

test('the used command ids survive a restart: a replay after restart is refused', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  let runs = 0;
  const mk = () => makeUplink(ledger, broker.url, { commandTarget: { command: () => (runs++, Promise.resolve({ status: 'unsupported' })) } }, { configPublicKey: keys.publicB64 });
  let up = mk();
  await up.start();
  try {
    await waitFor(() => cloud.received.status.filter((s) => !s.retained && s.payload.state === 'online').length === 1, 'online');
    const now = Math.floor(Date.now() / 1000);
    const cmd = { id: 'once', machineId: 'D1', kind: 'pause' as const, issuedAtSec: now, expiresAtSec: now + 120 };
    await cloud.publishCommand(ROOM, cmd);
    await waitFor(() => runs === 1 && cloud.received['command-result'].length === 1, 'ran');
    await up.stop();
    up = mk();
    await up.start();
    await waitFor(() => cloud.received.status.filter((s) => !s.retained && s.payload.state === 'online').length === 2, 'online again');
    await cloud.publishCommand(ROOM, cmd);
    await waitFor(() => cloud.received.reject.length === 1, 'refused');
    assert.equal(cloud.received.reject[0]?.payload.reason, 'replayed');
    assert.equal(runs, 1);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('without a configured key, signed downlinks are refused as no_key', async () => {
  const r = await rig({ key: 'none' });
  try {
    await r.cloud.publishConfig(ROOM, { version: 1, issuedAtSec: 1, pricing: PRICING });
    await waitFor(() => r.cloud.received.reject.length === 1, 'refused');
    assert.equal(rejects(r)[0]?.reason, 'no_key');
    await sleep(50);
    assert.equal(r.configs.length, 0);
  } finally {
    await r.close();
  }
});

test('configs arriving back to back are applied in order, even when applying one takes a while', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  const applied: number[] = [];
  const up = makeUplink(ledger, broker.url, { onRoomConfig: async (c) => (await sleep(c.version === 3 ? 150 : 0), void applied.push(c.version)) }, { configPublicKey: keys.publicB64 });
  await up.start();
  try {
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    await cloud.publishConfig(ROOM, { version: 3, issuedAtSec: 1, pricing: PRICING });
    await cloud.publishConfig(ROOM, { version: 4, issuedAtSec: 2, pricing: PRICING });
    await waitFor(() => applied.length === 2, 'both applied');
    assert.deepEqual(applied, [3, 4]);
    assert.equal(ledger.getNumberSetting('uplink.roomConfigVersion'), 4);
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('persistent session: a top-up sent while the gateway is offline arrives when it reconnects', async () => {
  const t = tempDir();
  const ledger = testLedger(t.file('ledger.db'));
  const keys = cloudKeys();
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  let up = makeUplink(ledger, broker.url, {}, { configPublicKey: keys.publicB64 });
  await up.start();
  try {
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online (session created)');
    await up.stop();
    await cloud.publishTopUps(ROOM, [{ cloudId: 'while-away', accountId: 'acc-9', amountCents: 700, accountVersion: 1 }]);
    up = makeUplink(ledger, broker.url, {}, { configPublicKey: keys.publicB64 });
    await up.start();
    await waitFor(() => ledger.balance('acc-9')?.balanceCents === 700, 'queued top-up applied after reconnect');
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

test('a config the callback refuses is reported apply_failed and not persisted; a persisted one that fails at start raises an alert', async () => {
  const t = tempDir();
  const keys = cloudKeys();
  const ledger = testLedger(t.file('ledger.db'));
  const cloud = await makeConsumer(broker.url, t.file('cloud.db'), { signingKey: keys.privateKey });
  let refuse = (v: number): boolean => v === 2;
  const mk = () =>
    makeUplink(
      ledger,
      broker.url,
      {
        onRoomConfig: (c) => {
          if (refuse(c.version)) throw new Error(`engine cannot take version ${c.version}`);
        },
      },
      { configPublicKey: keys.publicB64 },
    );
  let up = mk();
  await up.start();
  try {
    await waitFor(() => cloud.received.status.some((s) => !s.retained && s.payload.state === 'online'), 'online');
    await cloud.publishConfig(ROOM, { version: 1, issuedAtSec: 1, pricing: PRICING });
    await cloud.publishConfig(ROOM, { version: 2, issuedAtSec: 2, pricing: PRICING });
    await waitFor(() => cloud.received.reject.length === 1, 'v2 refused');
    assert.equal(cloud.received.reject[0]?.payload.reason, 'apply_failed');
    assert.equal(ledger.getNumberSetting('uplink.roomConfigVersion'), 1);
    await up.stop();
    refuse = () => true;
    up = mk();
    await up.start();
    await waitFor(() => cloud.records(ROOM).some((r) => r.type === 'alert' && (r.payload as { code: string }).code === 'room_config_unusable'), 'alert upstream');
  } finally {
    await up.stop();
    await cloud.stop();
    ledger.close();
    t.cleanup();
  }
});

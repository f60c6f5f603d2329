// The signed key downlink (down/keys) on a real ledger and a real key file: a message newer than
// every applied one becomes the key file (mode 0600, written whole) and the live keys at once,
// with several versions live; a replay, an older message, a bad signature, another room's message
// or a gateway without a secureCards block change nothing and are reported, with no key in the
// report or the log; after a restart the keys are the file's, and the old message stays refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { createLogger } from '../../gateway/core/log.js';
import { Downlinks } from '../../gateway/uplink/downlinks.js';
import { mqttConfigSchema } from '../../gateway/uplink/config-schema.js';
import { openSecureCards, type SecureCards } from '../../gateway/secure-cards/index.js';
import { signDownlink } from '../../protocols/mqtt/sign-downlink.js';
import { encodeSunUri } from '../../protocols/secure-card/index.js';
import { rawPublicKeyOf } from '../../protocols/qr-token/cose.js';
import { publicKeyFromBase64url } from '../../protocols/mqtt/signing.js';
import { openTestLedger, tempDir } from '../storage/helpers.js';
import { META_KEY_HEX, MASTER_KEY_HEX, SPEC_KEYS, SYSTEM_ID } from './vectors.js';

const ROOM = 'room-1';
const UID = '04A2B9C1D25E80';
const NEW_META = 'A0A1A2A3A4A5A6A7A8A9AAABACADAEAF';
const NEW_MASTER = 'B0B1B2B3B4B5B6B7B8B9BABBBCBDBEBF';

function logSink(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: dest }), text: () => lines.join('') };
}

test('down/keys: applied once, in order, into an owner-only key file; refusals change nothing and name no key', async () => {
  const t = tempDir('keys-');
  const ledger = openTestLedger(t.file('ledger.db'));
  const cloud = generateKeyPairSync('ed25519');
  const other = generateKeyPairSync('ed25519');
  const keyFile = t.file('secure-card-keys.json');
  const logs = logSink();
  const rejects: { reason: string; detail: string; ref?: string | undefined }[] = [];
  const open = (): SecureCards => openSecureCards({ keyFile, refusePlainCards: false }, { ledger, logger: logs.logger });
  const downlinks = (cards: SecureCards | null): Downlinks =>
    new Downlinks({
      roomId: ROOM,
      gatewayId: ROOM,
      ledger,
      logger: logs.logger,
      configKey: publicKeyFromBase64url(Buffer.from(rawPublicKeyOf(cloud.publicKey)).toString('base64url')),
      commands: mqttConfigSchema.parse({ url: 'mqtt://127.0.0.1:1' }).commands,
      nowSec: () => Math.floor(Date.now() / 1000),
      nowMs: () => Date.now(),
      secureCardKeys: cards?.keyTarget ?? null,
      reject: (r) => void rejects.push(r),
      commandResult: () => undefined,
    });
  const v1 = { version: 1, metaKey: META_KEY_HEX, masterKey: MASTER_KEY_HEX, systemId: SYSTEM_ID };
  const v2 = { version: 2, metaKey: NEW_META, masterKey: NEW_MASTER, systemId: SYSTEM_ID };
  const msg = (version: number, keys: object[], key = cloud.privateKey, room = ROOM): unknown => JSON.parse(signDownlink(key, 'keys', room, { version, keys }).envelope);
  const topic = `laundry/v1/${ROOM}/down/keys`;
  const newKeys = { version: 2, metaKey: Buffer.from(NEW_META, 'hex'), masterKey: Buffer.from(NEW_MASTER, 'hex'), systemId: SYSTEM_ID };
  try {
    // No key file yet: the room starts, every secure tap unknown_card, waiting for the downlink.
    let cards = open();
    assert.deepEqual(cards.versions(), []);
    let d = downlinks(cards);
    const tapV2 = encodeSunUri({ ...newKeys, uid: UID, counter: 3 });
    assert.deepEqual(cards.gate.admitSun({ readerId: 'r', machineId: 'W1', text: tapV2 }), { admitted: false, reason: 'unknown_card', auditSeq: 1 });

    // Message 5 rotates in version 2 beside version 1.
    await d.handle('keys', topic, msg(5, [v1, v2]));
    assert.equal(rejects.length, 0, JSON.stringify(rejects));
    assert.deepEqual(cards.versions(), [2, 1]);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${keyFile}.${process.pid}.tmp`));
    assert.deepEqual(JSON.parse(readFileSync(keyFile, 'utf8')), { keys: [v1, v2], downlinkVersion: 5 });
    const a = cards.gate.admitSun({ readerId: 'r', machineId: 'W1', text: encodeSunUri({ ...newKeys, uid: UID, counter: 4 }) });
    assert.equal(a.admitted && a.keyVersion, 2);
    const old = cards.gate.admitSun({ readerId: 'r', machineId: 'W1', text: encodeSunUri({ ...SPEC_KEYS, uid: UID, counter: 5 }) });
    assert.equal(old.admitted && old.keyVersion, 1, 'version 1 still live during the rotation');

    // Refused, changing nothing: the same message, an older one, a wrong signature, another room.
    await d.handle('keys', topic, msg(5, [v1, v2]));
    await d.handle('keys', topic, msg(4, [v1]));
    await d.handle('keys', topic, msg(9, [v1], other.privateKey));
    await d.handle('keys', topic, msg(9, [v1], cloud.privateKey, 'room-2'));
    await d.handle('keys', topic, msg(9, [v1, { ...v1 }]));
    assert.deepEqual(rejects.map((r) => r.reason), ['replayed', 'old_version', 'bad_signature', 'wrong_room', 'schema']);
    assert.deepEqual(cards.versions(), [2, 1]);

    // A restart: the keys are the file's; the old message is still old.
    cards = open();
    d = downlinks(cards);
    assert.deepEqual(cards.versions(), [2, 1]);
    await d.handle('keys', topic, msg(4, [v1]));
    assert.equal(rejects.at(-1)?.reason, 'old_version');
    // Version 1 retired: message 6 holds version 2 only.
    await d.handle('keys', topic, msg(6, [v2]));
    assert.deepEqual(cards.versions(), [2]);
    const retired = cards.gate.admitSun({ readerId: 'r', machineId: 'W1', text: encodeSunUri({ ...SPEC_KEYS, uid: UID, counter: 6 }) });
    assert.equal(!retired.admitted && retired.reason, 'unknown_card');

    // A gateway without a secureCards block takes no keys.
    await downlinks(null).handle('keys', topic, msg(7, [v2]));
    assert.equal(rejects.at(-1)?.reason, 'apply_failed');
    assert.deepEqual(JSON.parse(readFileSync(keyFile, 'utf8')), { keys: [v2], downlinkVersion: 6 });

    // No key, in any case, in a report or a log line.
    const seen = `${JSON.stringify(rejects)}\n${logs.text()}`.toUpperCase();
    for (const k of [META_KEY_HEX, MASTER_KEY_HEX, NEW_META, NEW_MASTER]) assert.ok(!seen.includes(k.slice(0, 12)), 'a key in a report or a log line');
  } finally {
    ledger.close();
    t.cleanup();
  }
});

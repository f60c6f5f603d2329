// CLI of the reference cloud consumer, for the demo and by hand:
//   node --import tsx simulator/cloud/main.ts --url mqtt://127.0.0.1:1883 --db cloud.db [--key-file key] [--protocol 4]
//   node --import tsx simulator/cloud/main.ts keygen     (prints a config key pair, base64url)
// Logs one JSON line per event to stdout.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLogger } from '../../gateway/core/log.js';
import { ed25519PrivateKey, rawPublicKeyOf, rawSeedOf } from '../../protocols/qr-token/cose.js';
import { CloudConsumer } from './consumer.js';

const HELP = `usage: cloud --url URL --db FILE [--key-file FILE] [--protocol 4|5] [--prefix laundry/v1]
       cloud keygen
--key-file holds the 32-byte Ed25519 seed in base64url: signs configs and commands.`;

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      db: { type: 'string' },
      'key-file': { type: 'string' },
      protocol: { type: 'string', default: '5' },
      prefix: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (positionals[0] === 'keygen') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    process.stdout.write(`${JSON.stringify({ privateSeed: Buffer.from(rawSeedOf(privateKey)).toString('base64url'), configPublicKey: Buffer.from(rawPublicKeyOf(publicKey)).toString('base64url') })}\n`);
    return;
  }
  if (!values.url || !values.db) throw new Error(HELP);
  const logger = createLogger({ name: 'cloud' });
  const signingKey = values['key-file'] ? ed25519PrivateKey(new Uint8Array(Buffer.from(readFileSync(values['key-file'], 'utf8').trim(), 'base64url'))) : undefined;
  const consumer = new CloudConsumer({
    url: values.url,
    dbPath: values.db,
    protocolVersion: values.protocol === '4' ? 4 : 5,
    prefix: values.prefix,
    signingKey,
    logger,
    policy: (b) => {
      logger.info({ gatewayId: b.gatewayId, batchId: b.batchId, records: b.records.length }, 'batch stored');
      return 'ack';
    },
  });
  // A consumer started before its broker (or across a broker restart) waits for it instead of
  // exiting: mqtt.js reconnects every 200 ms and each refusal is logged as a warning.
  await consumer.start({ untilConnected: true });
  logger.info({ url: values.url, db: values.db }, 'cloud consumer running');
  const stop = (): void => {
    void consumer.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

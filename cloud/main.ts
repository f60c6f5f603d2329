// The fleet ingest's entry point. One process is one worker; scale out is more processes (on
// this host or others) with the same config: they share the uplinks through the broker's shared
// subscription and each other's work through PostgreSQL's row locks.
//   node --import tsx cloud/main.ts ingest --config cloud.json
//   node --import tsx cloud/main.ts migrate --config cloud.json
//   node --import tsx cloud/main.ts sign --config cloud.json --kind config|command --room ROOM --body body.json
//   node --import tsx cloud/main.ts keygen
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createLogger } from '../gateway/core/log.js';
import { ed25519PrivateKey, rawPublicKeyOf, rawSeedOf } from '../protocols/qr-token/cose.js';
import { loadCloudConfig, type CloudConfig } from './config.js';
import { migrate } from './schema.js';
import { SIGNED_DOWNLINKS, signDownlink, type SignedDownlinkKind } from './signing.js';
import { IngestWorker } from './worker.js';

const HELP = `usage: cloud ingest  --config FILE      run one ingest worker (until SIGTERM/SIGINT)
       cloud migrate --config FILE      create the PostgreSQL schema and exit
       cloud sign    --config FILE --kind ${Object.keys(SIGNED_DOWNLINKS).join('|')} --room ROOM --body FILE
                                        print the signed downlink (topic name and payload) as JSON
       cloud keygen                     print a new signing key pair (seed and the gateways' configPublicKey)`;

function signingKey(cfg: CloudConfig) {
  if (cfg.signingKeyFile === undefined) return null;
  return ed25519PrivateKey(new Uint8Array(Buffer.from(readFileSync(cfg.signingKeyFile, 'utf8').trim(), 'base64url')));
}

function isKind(k: string): k is SignedDownlinkKind {
  return Object.hasOwn(SIGNED_DOWNLINKS, k);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { config: { type: 'string' }, kind: { type: 'string' }, room: { type: 'string' }, body: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const cmd = positionals[0];
  if (values.help || cmd === undefined) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  if (cmd === 'keygen') {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    process.stdout.write(`${JSON.stringify({ privateSeed: Buffer.from(rawSeedOf(privateKey)).toString('base64url'), configPublicKey: Buffer.from(rawPublicKeyOf(publicKey)).toString('base64url') })}\n`);
    return;
  }
  if (values.config === undefined) throw new Error(`--config is required\n${HELP}`);
  const cfg = loadCloudConfig(values.config);
  const logger = createLogger({ name: 'cloud', level: cfg.logLevel });
  if (cmd === 'migrate') {
    const pool = new pg.Pool({ connectionString: cfg.postgres.url, max: 1 });
    try {
      await migrate(pool, cfg.postgres.partitions);
    } finally {
      await pool.end();
    }
    logger.info({ partitions: cfg.postgres.partitions }, 'schema ready');
    return;
  }
  if (cmd === 'sign') {
    const key = signingKey(cfg);
    if (key === null) throw new Error('sign needs signingKeyFile in the config');
    if (values.kind === undefined || !isKind(values.kind) || values.room === undefined || values.body === undefined) throw new Error(HELP);
    const body = JSON.parse(readFileSync(values.body, 'utf8')) as Record<string, unknown>;
    process.stdout.write(`${JSON.stringify(signDownlink(values.kind, values.room, body, key))}\n`);
    return;
  }
  if (cmd !== 'ingest') throw new Error(`unknown command ${cmd}\n${HELP}`);
  const worker = new IngestWorker(cfg, logger, signingKey(cfg));
  await worker.start();
  logger.info({ worker: worker.id, broker: cfg.mqtt.url, group: cfg.mqtt.group }, 'ingest worker running');
  const stop = (): void => {
    worker.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e instanceof Error ? e.message : String(e) }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

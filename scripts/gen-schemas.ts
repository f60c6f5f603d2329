// Generates docs/schemas/*.json from the zod schemas of the MQTT contract and the config file, so the documented
// schemas can never drift from what the gateway and the consumer parse. Run:
//   node --import tsx scripts/gen-schemas.ts        (writes)
//   node --import tsx scripts/gen-schemas.ts --check (exits 1 when the committed files differ)
// test/uplink/schemas.test.ts runs the check too.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { DOWN_SCHEMAS, UP_SCHEMAS, accountsSchema, cardListSchema, remoteCommandSchema, topUpsSchema } from '../protocols/mqtt/payloads.js';
import { roomConfigSchema } from '../gateway/uplink/room-config.js';
import { gatewayConfigSchema } from '../gateway/config/schema.js';
import { RECORD_SCHEMAS } from '../protocols/mqtt/records.js';
import { keyDownlinkSchema } from '../protocols/mqtt/key-downlink.js';

export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'schemas');

/** File name → JSON text, exactly as committed. */
export function generateSchemas(): Map<string, string> {
  const out = new Map<string, string>();
  const put = (name: string, title: string, schema: z.ZodType, io: 'input' | 'output' = 'output'): void => {
    const json = { title, ...z.toJSONSchema(schema, { io, target: 'draft-2020-12' }) };
    out.set(`${name}.json`, `${JSON.stringify(json, null, 2)}\n`);
  };
  for (const [name, schema] of Object.entries(UP_SCHEMAS)) put(`up-${name}`, `up/${name}`, schema);
  for (const [name, schema] of Object.entries(DOWN_SCHEMAS)) put(`down-${name}`, `down/${name}`, schema);
  put('signed-remote-command', 'the JSON text inside down/commands .command', remoteCommandSchema);
  put('signed-card-list', 'the JSON text inside down/cards .cards', cardListSchema);
  put('signed-account-snapshots', 'the JSON text inside down/accounts .accounts', accountsSchema);
  put('signed-top-ups', 'the JSON text inside down/topups .topUps', topUpsSchema);
  put('signed-secure-card-keys', 'the JSON text inside down/keys .keys', keyDownlinkSchema);
  for (const [type, schema] of Object.entries(RECORD_SCHEMAS)) put(`record-${type}`, `up/batch records[].payload of type ${type}`, schema);
  // Input form: the config as the cloud writes it (defaults may be left out; instants may be ISO strings).
  put('signed-room-config', 'the JSON text inside down/config .config', roomConfigSchema, 'input');
  // The daemon's config file, as an operator writes it: editors can check it against this.
  put('gateway-config', 'the gateway config file (laundry-gateway config check)', gatewayConfigSchema, 'input');
  return out;
}

/** Names of files that differ from (or are missing in, or extra in) the committed directory. */
export function checkSchemas(dir: string = SCHEMA_DIR): string[] {
  const want = generateSchemas();
  const bad: string[] = [];
  for (const [name, text] of want) {
    const p = join(dir, name);
    if (!existsSync(p) || readFileSync(p, 'utf8') !== text) bad.push(name);
  }
  if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.json') && !want.has(f)) bad.push(f);
  return bad;
}

function main(): void {
  if (process.argv.includes('--check')) {
    const bad = checkSchemas();
    if (bad.length > 0) {
      process.stderr.write(`docs/schemas out of date: ${bad.join(', ')}; run node --import tsx scripts/gen-schemas.ts\n`);
      process.exit(1);
    }
    return;
  }
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const [name, text] of generateSchemas()) writeFileSync(join(SCHEMA_DIR, name), text);
  process.stdout.write(`wrote ${generateSchemas().size} schemas to ${SCHEMA_DIR}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();

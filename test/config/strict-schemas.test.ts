// Strict everywhere (issue 12, item 6): every object of the file config, the signed room config
// and every MQTT payload refuses unknown keys, at every depth, and says which key. The walkers
// go through every zod schema and every generated JSON Schema (docs/schemas/), so a loose
// object added later fails here, not in a laundry room.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { gatewayConfigSchema } from '../../gateway/config/schema.js';
import { parseConfigText } from '../../gateway/config/load.js';
import { roomConfigSchema } from '../../gateway/uplink/room-config.js';
import { DOWN_SCHEMAS, UP_SCHEMAS, accountsSchema, cardListSchema, describeIssues, remoteCommandSchema, topUpsSchema } from '../../protocols/mqtt/payloads.js';
import { SCHEMA_DIR } from '../../scripts/gen-schemas.js';

type Def = { type: string; [k: string]: unknown };
const defOf = (s: unknown): Def => (s as { _zod: { def: Def } })._zod.def;

/** Paths of every object schema that does not refuse unknown keys; throws on a schema kind it does not know. */
function looseZodObjects(root: z.ZodType, rootPath: string): { loose: string[]; objects: number } {
  const loose: string[] = [];
  let objects = 0;
  const seen = new Set<unknown>();
  const walk = (s: unknown, path: string): void => {
    if (seen.has(s)) return;
    seen.add(s);
    const d = defOf(s);
    const sub = (x: unknown, p = path): void => walk(x, p);
    switch (d.type) {
      case 'object': {
        objects++;
        if (d.catchall === undefined || defOf(d.catchall).type !== 'never') loose.push(path || '(top)');
        for (const [k, v] of Object.entries(d.shape as Record<string, unknown>)) sub(v, `${path}.${k}`);
        return;
      }
      case 'array':
        return sub(d.element, `${path}[]`);
      case 'optional':
      case 'nullable':
      case 'default':
      case 'prefault':
      case 'readonly':
      case 'nonoptional':
      case 'catch':
        return sub(d.innerType);
      case 'pipe':
        sub(d.in);
        return sub(d.out);
      case 'union':
        return (d.options as unknown[]).forEach((o) => sub(o));
      case 'intersection':
        sub(d.left);
        return sub(d.right);
      case 'record':
        sub(d.keyType, `${path}{key}`);
        return sub(d.valueType, `${path}{}`);
      case 'tuple':
        return (d.items as unknown[]).forEach((o, i) => sub(o, `${path}[${i}]`));
      case 'lazy':
        return sub((d.getter as () => unknown)());
      case 'string':
      case 'number':
      case 'int':
      case 'boolean':
      case 'literal':
      case 'enum':
      case 'unknown':
      case 'never':
      case 'null':
      case 'transform':
      case 'custom':
        return;
      default:
        throw new Error(`${rootPath}${path}: schema kind "${d.type}" unknown to this walker: teach it`);
    }
  };
  walk(root, '');
  return { loose: loose.map((p) => `${rootPath}${p}`), objects };
}

const ROOTS: [string, z.ZodType][] = [
  ['config', gatewayConfigSchema],
  ['room-config', roomConfigSchema],
  ['signed-remote-command', remoteCommandSchema],
  ['signed-card-list', cardListSchema],
  ['signed-account-snapshots', accountsSchema],
  ['signed-top-ups', topUpsSchema],
  ...Object.entries(DOWN_SCHEMAS).map(([n, s]): [string, z.ZodType] => [`down/${n}`, s]),
  ...Object.entries(UP_SCHEMAS).map(([n, s]): [string, z.ZodType] => [`up/${n}`, s]),
];

test('every zod object of the file config, the room config and the MQTT payloads is strict, at every depth', () => {
  const loose: string[] = [];
  let objects = 0;
  for (const [name, schema] of ROOTS) {
    const r = looseZodObjects(schema, name);
    loose.push(...r.loose);
    objects += r.objects;
  }
  assert.ok(objects > 80, `walked ${objects} objects`);
  assert.deepEqual(loose, [], 'use z.strictObject');
});

/** JSON Schema nodes of type object with named properties that do not say additionalProperties: false. */
function looseJsonObjects(node: unknown, path: string, out: string[]): number {
  if (Array.isArray(node)) return node.reduce((n: number, x, i) => n + looseJsonObjects(x, `${path}[${i}]`, out), 0);
  if (typeof node !== 'object' || node === null) return 0;
  const o = node as Record<string, unknown>;
  let n = 0;
  const isObject = o.type === 'object' || 'properties' in o;
  // A map (z.record: no named properties, a schema for every value) is not a loose object.
  const isMap = isObject && !('properties' in o) && typeof o.additionalProperties === 'object';
  if (isObject && !isMap) {
    n++;
    if (o.additionalProperties !== false) out.push(path || '(top)');
  }
  for (const [k, v] of Object.entries(o)) n += looseJsonObjects(v, `${path}/${k}`, out);
  return n;
}

test('every generated JSON Schema says additionalProperties: false on every object', () => {
  const files = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json'));
  assert.ok(files.length >= 17);
  const loose: string[] = [];
  let objects = 0;
  for (const f of files) objects += looseJsonObjects(JSON.parse(readFileSync(join(SCHEMA_DIR, f), 'utf8')), f, loose);
  assert.ok(objects > 80, `walked ${objects} objects`);
  assert.deepEqual(loose, []);
});

const BASE_CONFIG = {
  room: { id: 'room-1' },
  database: { path: '/tmp/x.db' },
  buses: [{ id: 'bus-1', transport: { type: 'tcp', host: '127.0.0.1', port: 1502 }, units: [{ unit: 1, profile: 'lw485', machineId: 'W1' }] }],
  pricing: { version: 'rs-1', base: [{ id: 'w', kind: 'washer', program: 1, priceCents: 300 }] },
  control: { socketPath: '/tmp/x.sock' },
};

test('issue 12.6: a typo deep in the config file or the signed room config is refused with its key path', () => {
  const file = (edit: (c: Record<string, unknown>) => void): string[] => {
    const c = structuredClone(BASE_CONFIG) as Record<string, unknown>;
    edit(c);
    const r = parseConfigText('gw.json', JSON.stringify(c), gatewayConfigSchema);
    return r.ok ? [] : r.errors;
  };
  assert.deepEqual(file(() => undefined), [], 'the base config is valid');
  assert.deepEqual(file((c) => ((c.pricing as { base: Record<string, unknown>[] }).base[0] = { id: 'w', kind: 'washer', program: 1, priceCnets: 300 })).filter((e) => e.includes('priceCnets')), [
    'gw.json: pricing.base[0].priceCnets: unknown key',
  ]);
  assert.deepEqual(file((c) => (c.risk = { offline: { cardCapCent: 500 } })), ['gw.json: risk.offline.cardCapCent: unknown key']);
  assert.deepEqual(file((c) => (c.risk = { velocityy: {} })), ['gw.json: risk.velocityy: unknown key']);

  const room = (cfg: Record<string, unknown>): string => {
    const r = roomConfigSchema.safeParse({ type: 'room-config', roomId: 'room-1', version: 2, issuedAtSec: 1, ...cfg });
    return r.success ? 'ok' : describeIssues(r.error);
  };
  assert.equal(room({ risk: { offline: { cardCapCents: 500 } } }), 'ok');
  assert.equal(room({ pricing: { version: 'rs-2', base: [{ id: 'w', kind: 'washer', program: 1, priceCnets: 300 }] } }).includes('pricing.base[0].priceCnets: unknown key'), true);
  assert.equal(room({ risk: { offline: { cardCapCent: 500 } } }), 'risk.offline.cardCapCent: unknown key');
  assert.equal(room({ risk: { velocityy: {} } }), 'risk.velocityy: unknown key');
});

test('issue 12.6: laundry-gateway config check names each mistyped key and refuses the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strict-config-'));
  try {
    const cfg = structuredClone(BASE_CONFIG) as Record<string, unknown>;
    cfg.pricing = { version: 'rs-1', base: [{ id: 'w', kind: 'washer', program: 1, priceCents: 300, priceCnets: 250 }] };
    cfg.risk = { offline: { cardCapCent: 500 }, velocityy: { maxVends: 2 } };
    const file = join(dir, 'typo.json');
    writeFileSync(file, JSON.stringify(cfg));
    const r = spawnSync(process.execPath, ['bin/laundry-gateway.mjs', 'config', 'check', '--config', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    for (const key of ['pricing.base[0].priceCnets', 'risk.offline.cardCapCent', 'risk.velocityy']) assert.ok(r.stderr.includes(`typo.json: ${key}: unknown key`), `${key} in:\n${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Input 5: configuration files, through the loader `run` and `config check` use (loadConfigFile
// / parseConfigText with the run config schema), and the device profile block on its own
// (busUnitsSchema). Arbitrary text, the demo room's config with its text damaged, and with its
// structure edited (any value replaced, removed, added or retyped). Nothing throws; a refusal
// is a list of errors that each name the file, then the key path (or "not valid JSON" with
// the line and column when JSON.parse gives a position), then the problem. Valid variants of the
// config (other names, sizes, readers, key order, layout) still load.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { z } from 'zod';
import { runConfigSchema } from '../../gateway/cli/config.js';
import { loadConfigFile, parseConfigText, type ConfigResult } from '../../gateway/config/load.js';
import { demoGatewayConfig } from '../../gateway/demo/room.js';
import { busUnitsSchema } from '../../gateway/profiles/config-schema.js';
import { Tally, must, runProperties, type FuzzEnv, type FuzzProperty, type InputReport } from './fuzz-common.js';
import { applyJsonEdit, jsonEdit, type Json } from './fuzz-json.js';

const BASE = JSON.parse(
  JSON.stringify(demoGatewayConfig({ tcpPort: 1502, dbPath: '/var/lib/laundry-gateway/ledger.db', qrPublicKey: Buffer.alloc(32, 1).toString('base64url') })),
) as { [k: string]: Json };
const BASE_TEXT = JSON.stringify(BASE, null, 2);
const MACHINES = ['W1', 'W2', 'D1', 'C1', 'C4'];

/** One error line: `<file>: <path>: <problem>`, or `<file>: not valid JSON[ (line L, column C)]: <problem>`. */
function checkErrors(file: string, text: string, r: ConfigResult<unknown>, tally: Tally): void {
  if (r.ok) {
    tally.accept();
    return;
  }
  must(r.errors.length > 0, 'refused without a single error');
  const prefix = `${file}: `;
  for (const e of r.errors) {
    must(typeof e === 'string' && e.startsWith(prefix), () => `error does not start with the file name: ${String(e).slice(0, 200)}`);
    const rest = e.slice(prefix.length);
    if (rest.startsWith('not valid JSON')) {
      must(/^not valid JSON( \(line \d+, column \d+\))?: .+/s.test(rest), () => `JSON error without its problem: ${rest.slice(0, 200)}`);
      must(r.errors.length === 1, 'a JSON error together with others');
      continue;
    }
    if (rest.startsWith('cannot read')) continue;
    // A key path (or "(top level)") then the problem; zod paths may hold any key text, so the
    // split is at the last ": " whose right side is the message zod gave.
    const m = /^(\(top level\)|[^\n]*?): (.+)$/s.exec(rest);
    must(m !== null && (m[2]?.trim().length ?? 0) > 0, () => `error without a key path and a problem: ${rest.slice(0, 200)}`);
  }
  // A JSON text that parses is never reported as invalid JSON, and the other way round.
  let parses = true;
  try {
    JSON.parse(text);
  } catch {
    parses = false;
  }
  must(parses !== r.errors.some((e) => e.startsWith(`${prefix}not valid JSON`)), 'JSON validity misreported');
  const first = r.errors[0]?.slice(prefix.length) ?? '';
  tally.reject(first.startsWith('not valid JSON') ? 'not valid JSON' : `schema: ${/^(\(top level\)|[A-Za-z_$][\w$]*)/.exec(first)?.[0] ?? 'other'}`);
}

const printable = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789-_.äöü€'), minLength: 1, maxLength: 40 });

/** Edits that keep the config valid: what an installer changes. */
const validVariant: fc.Arbitrary<{ [k: string]: Json }> = fc
  .record({
    name: printable,
    retentionDays: fc.integer({ min: 1, max: 3650 }),
    pollIntervalMs: fc.integer({ min: 50, max: 60_000 }),
    replyTimeoutMs: fc.integer({ min: 10, max: 5000 }),
    level: fc.constantFrom('fatal', 'error', 'warn', 'info', 'debug', 'trace'),
    readers: fc.uniqueArray(fc.tuple(fc.constantFrom('line', 'em4100', 'qr'), fc.oneof(fc.constantFrom(...MACHINES), fc.constant('kiosk')), fc.constantFrom(9600, 19200, 38400, 57600, 115200)), { maxLength: 4, selector: (t) => t.join() }),
    reverseKeys: fc.boolean(),
  })
  .map((v) => {
    const c = JSON.parse(JSON.stringify(BASE)) as { [k: string]: Json };
    c['room'] = { id: 'room-0042', name: v.name };
    c['database'] = { path: '/var/lib/laundry-gateway/ledger.db', retentionDays: v.retentionDays };
    const buses = c['buses'];
    if (Array.isArray(buses) && buses[0] !== null && typeof buses[0] === 'object' && !Array.isArray(buses[0])) {
      buses[0]['pollIntervalMs'] = v.pollIntervalMs;
      buses[0]['replyTimeoutMs'] = v.replyTimeoutMs;
    }
    c['log'] = { level: v.level };
    c['readers'] = v.readers.map(([type, at, baud], i) => ({ id: `reader-${i}`, type, path: `/dev/serial/by-id/usb-reader-${i}`, baudRate: baud, attachedTo: at === 'kiosk' ? 'kiosk' : { machineId: at } }));
    if (!v.reverseKeys) return c;
    return Object.fromEntries(Object.entries(c).reverse());
  });

type TextEdit = { op: 'delete' | 'insert' | 'replace'; at: number; ch: string } | { op: 'truncate'; at: number };
const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  op: fc.constantFrom<'delete' | 'insert' | 'replace' | 'truncate'>('delete', 'insert', 'replace', 'truncate'),
  at: fc.nat(),
  ch: fc.oneof(fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', '\n', ' ', '0', '-', 'e', 'n', '\u0000', '\ufeff'), fc.string({ unit: 'binary', minLength: 1, maxLength: 2 })),
}) as fc.Arbitrary<TextEdit>;

function applyTextEdit(text: string, e: TextEdit): string {
  const i = e.at % (text.length + 1);
  switch (e.op) {
    case 'delete':
      return text.slice(0, i) + text.slice(i + 1);
    case 'insert':
      return text.slice(0, i) + e.ch + text.slice(i);
    case 'replace':
      return text.slice(0, i) + e.ch + text.slice(i + 1);
    case 'truncate':
      return text.slice(0, i);
  }
}

export async function fuzzConfig(env: FuzzEnv): Promise<InputReport> {
  const tally = new Tally();
  const extra = { 'loaded from a file': 0, 'valid variants loaded': 0 };
  const t0 = performance.now();
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fuzz-config-'));
  const file = join(dir, 'config.json');
  let n = 0;

  /** Through the file loader one time in ten, else straight from text (the same path after the read). */
  const load = <S extends z.ZodType>(text: string, schema: S): { name: string; r: ConfigResult<z.output<S>> } => {
    let r: ConfigResult<z.output<S>>;
    let name: string;
    try {
      if (n++ % 10 === 0) {
        writeFileSync(file, text);
        extra['loaded from a file']++;
        name = file;
        r = loadConfigFile(file, schema);
      } else {
        name = 'room.json';
        r = parseConfigText(name, text, schema);
      }
    } catch (e) {
      must(false, () => `the loader threw instead of reporting: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      throw e;
    }
    return { name, r };
  };

  const props: FuzzProperty[] = [
    {
      id: 'config.valid-variants',
      weight: 1,
      property: () =>
        fc.property(validVariant, fc.constantFrom<number | undefined>(undefined, 0, 2, 4), (c, indent) => {
          const text = JSON.stringify(c, null, indent);
          const { name, r } = load(text, runConfigSchema);
          must(r.ok, () => `a valid config was refused: ${r.ok ? '' : r.errors.join(' | ').slice(0, 400)}`);
          checkErrors(name, text, r, tally);
          extra['valid variants loaded']++;
          return true;
        }),
    },
    {
      id: 'config.structure-edits',
      weight: 4,
      property: () =>
        fc.property(fc.array(jsonEdit, { minLength: 1, maxLength: 4 }), (edits) => {
          const doc = edits.reduce<Json>((d, e) => applyJsonEdit(d, e), BASE);
          const text = JSON.stringify(doc);
          const { name, r } = load(text, runConfigSchema);
          checkErrors(name, text, r, tally);
          return true;
        }),
    },
    {
      id: 'config.text-edits',
      weight: 2,
      property: () =>
        fc.property(fc.array(textEdit, { minLength: 1, maxLength: 4 }), (edits) => {
          const text = edits.reduce((t, e) => applyTextEdit(t, e), BASE_TEXT);
          const { name, r } = load(text, runConfigSchema);
          checkErrors(name, text, r, tally);
          return true;
        }),
    },
    {
      id: 'config.arbitrary',
      weight: 2,
      property: () =>
        fc.property(
          fc.oneof(fc.string({ maxLength: 300, size: 'max' }), fc.string({ unit: 'binary', maxLength: 200, size: 'max' }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'), fc.uint8Array({ maxLength: 200, size: 'max' }).map((b) => Buffer.from(b).toString('latin1'))),
          (text) => {
            const { name, r } = load(text, runConfigSchema);
            checkErrors(name, text, r, tally);
            return true;
          },
        ),
    },
    {
      id: 'config.units',
      weight: 1,
      // The device profile block alone, as integrators embed it.
      property: () =>
        fc.property(fc.array(jsonEdit, { maxLength: 4 }), (edits) => {
          const buses = BASE['buses'];
          const units = Array.isArray(buses) && buses[0] !== null && typeof buses[0] === 'object' && !Array.isArray(buses[0]) ? (buses[0]['units'] ?? []) : [];
          const doc = edits.reduce<Json>((d, e) => applyJsonEdit(d, e), units);
          const text = JSON.stringify(doc);
          const { name, r } = load(text, busUnitsSchema);
          if (edits.length === 0) must(r.ok, 'the demo units were refused');
          checkErrors(name, text, r, tally);
          return true;
        }),
    },
  ];

  try {
    const { runs, violations } = await runProperties(env, props);
    return { input: 'config', title: 'configuration files through loadConfigFile / parseConfigText (run config and device units)', runs, seconds: (performance.now() - t0) / 1000, tally, extra, violations };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

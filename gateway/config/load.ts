// Reading a config file is reading outside input: every problem is reported with the file, the
// key path and what is wrong, and nothing touches the bus until the whole file is good.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { issueLines } from '../../protocols/issues.js';

export type ConfigResult<T> = { ok: true; config: T } | { ok: false; errors: string[] };

/** One line per problem with the key path; an unknown key at any depth by its own path. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string[] {
  return issueLines(issues).map((l) => `${file}: ${l.replace(/^\(top\):/, '(top level):')}`);
}

/** Line and column of a JSON.parse position, for a message an operator can act on. */
function where(text: string, message: string): string {
  const m = /position (\d+)/.exec(message);
  if (!m?.[1]) return '';
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return ` (line ${line}, column ${col})`;
}

export function parseConfigText<S extends z.ZodType>(file: string, text: string, schema: S): ConfigResult<z.output<S>> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    return { ok: false, errors: [`${file}: not valid JSON${where(text, msg)}: ${msg}`] };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: formatIssues(file, parsed.error.issues) };
  return { ok: true, config: parsed.data };
}

export function loadConfigFile<S extends z.ZodType>(file: string, schema: S): ConfigResult<z.output<S>> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    return { ok: false, errors: [`${file}: cannot read the config file${code ? ` (${code})` : ''}`] };
  }
  return parseConfigText(file, text, schema);
}

// How a refused input is described, for config files and downlinks alike: the key path as an
// operator writes it and what is wrong, never the offending value. Pure.
import type { z } from 'zod';

/** A key written as it is when it cannot be mistaken: no space, control character, quote, dot or bracket. */
const PLAIN_KEY = /^[^\s"'\\.[\]\u0000-\u001f\u007f]+$/u;

/**
 * `pricing.base[0].priceCents`: the key path as an operator writes it. A key that is not plain
 * (a typo with a newline, a dot or a quote in it) is quoted, `units[3]["k\nd"]`, so one problem
 * stays one line and its path cannot be misread.
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  return path
    .map((p) => (typeof p === 'number' ? `[${p}]` : PLAIN_KEY.test(String(p)) ? String(p) : `[${JSON.stringify(String(p))}]`))
    .join('.')
    .replace(/\.\[/g, '[');
}

/**
 * One line per problem, `path: message`; an unknown key is named by its own path
 * (`risk.offline.cardCapCent: unknown key`), so a typo at any depth is found at once.
 */
export function issueLines(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.flatMap((i) => {
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${formatKeyPath([...i.path, k])}: unknown key`);
    return [`${i.path.length ? formatKeyPath(i.path) : '(top)'}: ${i.message}`];
  });
}

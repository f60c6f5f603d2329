// A small argument parser for the CLI: positionals, boolean flags and flags with a value.
// Unknown flags are an error: a typo must not silently change what a command does.

export const EXIT = { ok: 0, failed: 1, usage: 2, notRunning: 3 } as const;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string>;
  bools: Set<string>;
}

export function parseArgs(args: readonly string[], spec: { values: readonly string[]; bools: readonly string[] }): ParsedArgs {
  const out: ParsedArgs = { positional: [], values: new Map(), bools: new Set() };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') {
      out.positional.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    if (spec.bools.includes(name)) {
      if (eq >= 0) throw new UsageError(`${name} takes no value`);
      out.bools.add(name);
    } else if (spec.values.includes(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : args[++i];
      if (v === undefined) throw new UsageError(`${name} needs a value`);
      out.values.set(name, v);
    } else {
      throw new UsageError(`unknown option ${name}`);
    }
  }
  return out;
}

/** Decimal or 0x-hex, an integer within [min, max]. */
export function intArg(what: string, s: string | undefined, min: number, max: number): number {
  if (s === undefined) throw new UsageError(`missing ${what}`);
  const n = /^0x[0-9a-f]+$/i.test(s) ? parseInt(s.slice(2), 16) : /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${what} must be an integer from ${min} to ${max} (got "${s}")`);
  return n;
}

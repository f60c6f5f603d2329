// The uplink batch's fast path, compiled from its zod schema. zod's own parse of a batch (an
// envelope and ~40 records) costs more than the worker's whole handling of it besides JSON;
// this walks the schema once, at load, into plain checks of the same rules (strict keys,
// string lengths, safe integers and their bounds, literals, optional keys), so the schema stays
// the one statement of them. The cross-field rules (fromSeq/toSeq the first and last seq, the
// seq order, afterSeq and ackedSeq) are one function, batchOrderIssues, that the schema's
// refinement reports from and the fast path runs. The fast path only accepts: what it does not
// accept goes to zod, whose verdict and issues stand. Only types are imported (payloads.ts
// imports this module).
import type { z } from 'zod';

/** A compiled check: true only where the schema surely accepts the value as it is. */
export type Accept = (x: unknown) => boolean;

interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  value?: number;
  inclusive?: boolean;
  format?: string;
}

/** The parts of zod 4's schema definitions the compiler reads. */
interface Def {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  values?: unknown[];
}

const defOf = (s: z.ZodType): Def => s._zod.def as unknown as Def;
const never: Accept = () => false;

/** What a compile found it cannot check by hand (its fast path then accepts nothing there). */
export interface Compiled {
  accept: Accept;
  /** Paths of the schema the fast path leaves to zod entirely; empty: every rule compiled. */
  unsupported: string[];
}

/**
 * The schema's rules as plain checks, for the kinds of schema the batch uses. An object's own
 * refinements are not compiled: `refinement` stands for the top level's (it must say the same);
 * anything else the compiler does not know (a regex, a transform, a union…) accepts nothing.
 */
export function compileAccept(schema: z.ZodType, refinement?: (x: Record<string, unknown>) => boolean): Compiled {
  const unsupported: string[] = [];
  const accept = compile(schema, '', unsupported, refinement);
  return { accept, unsupported };
}

function compile(s: z.ZodType, path: string, unsupported: string[], refinement?: (x: Record<string, unknown>) => boolean): Accept {
  const d = defOf(s);
  const checks = (d.checks ?? []).map((c) => c._zod.def);
  const give = (why: string): Accept => (unsupported.push(`${path || '(root)'}: ${why}`), never);
  switch (d.type) {
    case 'string': {
      const len = lengths(checks);
      if (len === null) return give('a string check other than min/max length');
      return (x) => typeof x === 'string' && x.length >= len.min && x.length <= len.max;
    }
    case 'number': {
      let safeInt = false;
      let ok: ((n: number) => boolean)[] = [];
      for (const c of checks) {
        if (c.check === 'number_format' && (c.format === 'safeint' || c.format === 'int')) safeInt = true;
        else if (c.check === 'greater_than' && typeof c.value === 'number') ok = [...ok, bound(c.value, c.inclusive === true, 1)];
        else if (c.check === 'less_than' && typeof c.value === 'number') ok = [...ok, bound(c.value, c.inclusive === true, -1)];
        else return give(`a number check ${c.check}`);
      }
      // Without a format zod still refuses NaN and the infinities.
      return (x) => typeof x === 'number' && (safeInt ? Number.isSafeInteger(x) : Number.isFinite(x)) && ok.every((f) => f(x));
    }
    case 'boolean':
      return checks.length === 0 ? (x) => typeof x === 'boolean' : give('a boolean with checks');
    case 'literal': {
      const values = d.values ?? [];
      return (x) => values.includes(x);
    }
    case 'unknown':
      // zod accepts a missing key here; the fast path wants it present (stricter: zod decides the rest).
      return (x) => x !== undefined;
    case 'optional': {
      if (d.innerType === undefined) return give('an optional without its type');
      const inner = compile(d.innerType, path, unsupported);
      return (x) => x === undefined || inner(x);
    }
    case 'array': {
      if (d.element === undefined) return give('an array without its element');
      const len = lengths(checks);
      if (len === null) return give('an array check other than min/max length');
      const el = compile(d.element, `${path}[]`, unsupported);
      // By index, not every(): every() skips an array's holes, which zod reads as undefined.
      return (x) => {
        if (!Array.isArray(x) || x.length < len.min || x.length > len.max) return false;
        for (let i = 0; i < x.length; i++) if (!el(x[i])) return false;
        return true;
      };
    }
    case 'object':
      return compileObject(d, checks, path, unsupported, refinement);
    default:
      return give(`a ${d.type}`);
  }
}

function compileObject(d: Def, checks: readonly CheckDef[], path: string, unsupported: string[], refinement?: (x: Record<string, unknown>) => boolean): Accept {
  const give = (why: string): Accept => (unsupported.push(`${path || '(root)'}: ${why}`), never);
  if (d.shape === undefined || d.catchall === undefined || defOf(d.catchall).type !== 'never') return give('an object that is not strict');
  if (checks.length > 0 && refinement === undefined) return give('an object refinement');
  const keys = Object.keys(d.shape);
  const known = new Set(keys);
  const fields = keys.map((k) => {
    const f = d.shape?.[k];
    if (f === undefined) return { k, optional: false, ok: never };
    return { k, optional: defOf(f).type === 'optional', ok: compile(f, path ? `${path}.${k}` : k, unsupported) };
  });
  return (x) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!known.has(k)) return false;
    for (const f of fields) {
      if (!Object.hasOwn(o, f.k)) {
        if (!f.optional) return false;
      } else if (!f.ok(o[f.k])) return false;
    }
    return refinement === undefined || refinement(o);
  };
}

/** min/max length checks (absent: 0 / unbounded), or null when there is any other check. */
function lengths(checks: readonly CheckDef[]): { min: number; max: number } | null {
  let min = 0;
  let max = Number.POSITIVE_INFINITY;
  for (const c of checks) {
    if (c.check === 'min_length' && typeof c.minimum === 'number') min = Math.max(min, c.minimum);
    else if (c.check === 'max_length' && typeof c.maximum === 'number') max = Math.min(max, c.maximum);
    else return null;
  }
  return { min, max };
}

function bound(value: number, inclusive: boolean, dir: 1 | -1): (n: number) => boolean {
  if (dir === 1) return inclusive ? (n) => n >= value : (n) => n > value;
  return inclusive ? (n) => n <= value : (n) => n < value;
}

/** A batch's fields the order rules read, as the schema types them (before they are known good). */
interface BatchOrder {
  fromSeq: number;
  toSeq: number;
  afterSeq?: number;
  ackedSeq?: number;
  records: readonly { seq: number }[];
}

export interface OrderIssue {
  path: (string | number)[];
  message: string;
}

/**
 * The batch's cross-field rules: the schema's refinement reports these issues, the fast path
 * accepts only a batch with none. fromSeq and toSeq are the first and last record's seq, the
 * seqs increase, afterSeq is below fromSeq and ackedSeq not above afterSeq.
 */
export function batchOrderIssues(b: BatchOrder): OrderIssue[] {
  const out: OrderIssue[] = [];
  const first = b.records[0];
  const last = b.records[b.records.length - 1];
  if (first?.seq !== b.fromSeq || last?.seq !== b.toSeq) out.push({ path: [], message: 'fromSeq/toSeq must be the first and last record seq' });
  if (b.afterSeq !== undefined && b.afterSeq >= b.fromSeq) out.push({ path: ['afterSeq'], message: 'afterSeq must be below fromSeq' });
  if (b.ackedSeq !== undefined && b.afterSeq !== undefined && b.ackedSeq > b.afterSeq) out.push({ path: ['ackedSeq'], message: 'ackedSeq must not be above afterSeq' });
  for (let i = 1; i < b.records.length; i++) {
    const prev = b.records[i - 1];
    const cur = b.records[i];
    if (prev !== undefined && cur !== undefined && cur.seq <= prev.seq) out.push({ path: ['records', i, 'seq'], message: 'records must be in increasing seq order' });
  }
  return out;
}

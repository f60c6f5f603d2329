// Structure-aware edits of JSON documents, for the inputs that arrive as JSON (downlinks, config
// files): replace, remove, add or retype the value at any path, or put an edge number there.
import fc from 'fast-check';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

type Path = (string | number)[];
export type JsonEdit = { op: 'set'; pick: number; value: Json } | { op: 'delete'; pick: number } | { op: 'add'; pick: number; key: string; value: Json } | { op: 'retype'; pick: number } | { op: 'number'; pick: number; n: number };

export function pathsOf(v: Json, at: Path = []): Path[] {
  const out: Path[] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...pathsOf(x, [...at, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...pathsOf(x, [...at, k]));
  return out;
}

function getAt(v: Json, p: Path): Json | undefined {
  let cur: Json | undefined = v;
  for (const k of p) {
    if (cur === null || typeof cur !== 'object' || cur === undefined) return undefined;
    cur = Array.isArray(cur) ? cur[Number(k)] : cur[String(k)];
  }
  return cur;
}

/** Returns the edited copy; the root itself can be replaced. */
export function applyJsonEdit(src: Json, e: JsonEdit): Json {
  const v = JSON.parse(JSON.stringify(src)) as Json;
  const all = pathsOf(v);
  const p = all[e.pick % all.length] ?? [];
  const old = getAt(v, p);
  let next: Json | undefined;
  switch (e.op) {
    case 'set':
      next = e.value;
      break;
    case 'delete':
      next = undefined;
      break;
    case 'add':
      if (old !== null && typeof old === 'object' && !Array.isArray(old) && old !== undefined) next = { ...old, [e.key]: e.value };
      else if (Array.isArray(old)) next = [...old, e.value];
      else next = e.value;
      break;
    case 'retype':
      next = typeof old === 'number' ? String(old) : typeof old === 'string' ? (Number.isFinite(Number(old)) && old !== '' ? Number(old) : [old]) : old === null ? 0 : Array.isArray(old) ? (old[0] ?? null) : typeof old === 'object' ? [old] : old === true ? 1 : null;
      break;
    case 'number':
      next = e.n;
      break;
  }
  if (p.length === 0) return next ?? null;
  const parent = getAt(v, p.slice(0, -1));
  const key = p[p.length - 1];
  if (parent === null || typeof parent !== 'object' || parent === undefined || key === undefined) return v;
  if (Array.isArray(parent)) {
    if (next === undefined) parent.splice(Number(key), 1);
    else parent[Number(key)] = next;
  } else if (next === undefined) delete parent[String(key)];
  else parent[String(key)] = next;
  return v;
}

export const jsonValue = fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>;
const edgeNumber = fc.constantFrom(0, -1, 1, 0.5, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, -(2 ** 53), 1e308, -0);
export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ op: fc.constant<'set'>('set'), pick: fc.nat(), value: jsonValue }),
  fc.record({ op: fc.constant<'delete'>('delete'), pick: fc.nat() }),
  fc.record({ op: fc.constant<'add'>('add'), pick: fc.nat(), key: fc.oneof(fc.constantFrom('extra', 'v', 'version', '__proto__', 'constructor', 'id'), fc.string({ maxLength: 8 })), value: jsonValue }),
  fc.record({ op: fc.constant<'retype'>('retype'), pick: fc.nat() }),
  fc.record({ op: fc.constant<'number'>('number'), pick: fc.nat(), n: fc.oneof(edgeNumber, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) }),
);

// The import graph of the production folders, read from the sources as text: every relative
// import, `export … from` and dynamic import(), type-only ones included (a type import still ties
// two modules' designs together). Used by test/architecture/imports.test.ts; run it directly
// (`node --import tsx scripts/import-graph.ts`) to print the circles, if any.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const PRODUCTION_FOLDERS = ['gateway', 'protocols', 'storage', 'simulator'] as const;

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Module (path relative to the root) → the modules of this tree it imports. */
export function importGraph(root = ROOT, folders: readonly string[] = PRODUCTION_FOLDERS): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const folder of folders) {
    for (const file of tsFiles(join(root, folder))) {
      const text = readFileSync(file, 'utf8');
      const deps = new Set<string>();
      for (const m of text.matchAll(IMPORT_RE)) {
        const spec = m[1] ?? m[2];
        if (spec === undefined || !spec.startsWith('.')) continue;
        deps.add(relative(root, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
      }
      graph.set(relative(root, file), [...deps].sort());
    }
  }
  return graph;
}

/** Every import circle, each as the list of modules on it (Tarjan's strongly connected components). */
export function circles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, idx.get(w) ?? 0));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      for (;;) {
        const w = stack.pop();
        if (w === undefined) break;
        onStack.delete(w);
        scc.push(w);
        if (w === v) break;
      }
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

/** Imports that cross a layer boundary the wrong way: `from` folder must not import `to` folder. */
export function forbidden(graph: ReadonlyMap<string, readonly string[]>, rules: ReadonlyArray<{ from: string; to: string }>): string[] {
  const out: string[] = [];
  for (const [mod, deps] of graph) {
    for (const d of deps) {
      for (const r of rules) if (mod.startsWith(`${r.from}/`) && d.startsWith(`${r.to}/`)) out.push(`${mod} → ${d}`);
    }
  }
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const found = circles(importGraph());
  for (const c of found) process.stdout.write(`circle: ${c.join(' ↔ ')}\n`);
  process.stdout.write(`${found.length} import circle(s)\n`);
  process.exitCode = found.length === 0 ? 0 : 1;
}

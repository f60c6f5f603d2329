// The folders are the architecture: no import circle anywhere, and no layer imports upwards
// (protocols/ knows no ports or storage, storage/ knows nothing of the gateway).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, circles, forbidden, importGraph } from '../../scripts/import-graph.js';

test('no import circle in gateway/, protocols/, storage/ or simulator/', () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `read ${graph.size} modules`);
  assert.ok(graph.get('gateway/daemon.ts')?.includes('gateway/web/from-daemon.ts'), 'the graph sees the root importing its parts');
  assert.deepEqual(circles(graph), []);
});

test('the circle finder finds a circle, type imports included', () => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(circles(g), [['a.ts', 'b.ts', 'c.ts']]);
});

test('layers import downwards only', () => {
  const graph = importGraph();
  assert.deepEqual(
    forbidden(graph, [
      { from: 'storage', to: 'gateway' },
      { from: 'storage', to: 'simulator' },
      { from: 'protocols', to: 'gateway' },
      { from: 'protocols', to: 'storage' },
      { from: 'protocols', to: 'simulator' },
      { from: 'gateway', to: 'simulator' },
    ]).filter((edge) => !edge.startsWith('gateway/demo/')), // the demo runs a simulated room
    [],
  );
});

test('the engine knows no device model: it imports no profile implementation and names none', () => {
  const graph = importGraph();
  const engineFiles = [...graph.keys()].filter((f) => f.startsWith('gateway/engine/'));
  assert.ok(engineFiles.length > 10, `read ${engineFiles.length} engine modules`);
  const deviceModule = /^gateway\/profiles\/(lw485|rio8|meter)[^/]*\.ts$/;
  assert.deepEqual(engineFiles.flatMap((f) => (graph.get(f) ?? []).filter((to) => deviceModule.test(to)).map((to) => `${f} -> ${to}`)), []);
  // Code only: a comment may say which device taught a rule, the code may not switch on it.
  const named = engineFiles.filter((f) => /lw-?485|rio-?8|cm-1|'meter'/i.test(withoutComments(readFileSync(join(ROOT, f), 'utf8'))));
  assert.deepEqual(named, []);
});

function withoutComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

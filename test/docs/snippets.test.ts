// The integrator snippets in docs/ are compiled, so they cannot drift from the code: every ```ts
// block right after a `<!-- compiled by test/docs/snippets.test.ts -->` line is written to a
// scratch folder (imports written from the repository root, './gateway/…', are re-rooted) and
// type-checked with the project's own tsc and settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MARK = '<!-- compiled by test/docs/snippets.test.ts -->';

function snippets(): Array<{ doc: string; line: number; code: string }> {
  const out: Array<{ doc: string; line: number; code: string }> = [];
  for (const doc of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(ROOT, 'docs', doc), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (l.trim() !== MARK) return;
      assert.equal(lines[i + 1], '```ts', `${doc}:${i + 2}: the mark must be followed by a \`\`\`ts block`);
      const end = lines.indexOf('```', i + 2);
      assert.ok(end > i, `${doc}:${i + 2}: unterminated block`);
      out.push({ doc, line: i + 2, code: lines.slice(i + 2, end).join('\n') });
    });
  }
  return out;
}

test('the integrator snippets in docs/ compile against the code', () => {
  const found = snippets();
  assert.ok(found.length >= 5, `found ${found.length} marked snippets`);
  const dir = join(ROOT, 'test', 'docs', `.snippets-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    for (const s of found) {
      const code = s.code.replace(/from '\.\/(gateway|storage|protocols|simulator)\//g, "from '../../../$1/");
      writeFileSync(join(dir, `${s.doc.replace(/\.md$/, '')}-${s.line}.ts`), `// ${s.doc}:${s.line}\n${code}\nexport {};\n`);
    }
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ extends: '../../../tsconfig.json', compilerOptions: { noEmit: true, rootDir: '../../..', noUnusedLocals: false }, include: ['*.ts'] }),
    );
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `tsc on the doc snippets:\n${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { REJECT_REASONS, verifyToken } from '../../protocols/qr-token/verify.js';
import { buildVectors, contextOf, type VectorFile } from './vector-set.js';
import { vectorsJson, vectorsMarkdown } from './make-vectors.js';

const jsonPath = new URL('./vectors.json', import.meta.url);
const mdPath = new URL('../../docs/qr-token-vectors.md', import.meta.url);
const file = JSON.parse(readFileSync(jsonPath, 'utf8')) as VectorFile;

test('vectors: every vector gets its verdict', () => {
  for (const v of file.vectors) {
    const r = verifyToken(v.token, contextOf(file, v.context));
    if (v.expect.ok) {
      assert.ok(r.ok, `${v.name}: ${r.ok ? '' : `${r.reason} ${r.detail}`}`);
      const { ok: _ok, ...want } = v.expect;
      const got: Record<string, unknown> = { amountCents: r.amountCents, chargeCents: r.chargeCents, overpaidCents: r.overpaidCents, tokenId: r.tokenId, expiresAt: r.expiresAt };
      if (r.machineId !== undefined) got['machineId'] = r.machineId;
      if (r.program !== undefined) got['program'] = r.program;
      assert.deepEqual(got, want, v.name);
    } else {
      assert.equal(r.ok, false, v.name);
      if (!r.ok) assert.equal(r.reason, v.expect.reason, `${v.name}: ${r.detail}`);
    }
  }
});

test('vectors: cover valid, m and p, tag 18 and untagged, and every reason code', () => {
  const reasons = new Set(file.vectors.flatMap((v) => (v.expect.ok ? [] : [v.expect.reason])));
  for (const r of REJECT_REASONS) assert.ok(reasons.has(r), `no vector for ${r}`);
  const valid = file.vectors.filter((v) => v.expect.ok);
  assert.ok(valid.some((v) => v.expect.ok && v.expect.program !== undefined && v.coseHex?.includes('616d')));
  assert.ok(valid.some((v) => v.coseHex?.startsWith('d284')), 'a tagged valid vector');
  assert.ok(valid.some((v) => v.coseHex?.startsWith('84')), 'an untagged valid vector');
});

test('vectors: the minter still produces exactly the committed vectors and docs', () => {
  const fresh = buildVectors();
  assert.equal(vectorsJson(fresh), readFileSync(jsonPath, 'utf8'), 'vectors.json is stale: node --import tsx test/tokens/make-vectors.ts');
  assert.equal(vectorsMarkdown(fresh), readFileSync(mdPath, 'utf8'), 'docs/qr-token-vectors.md is stale');
});

#!/usr/bin/env node
// node scripts/package/bundle.mjs <outfile> [--no-minify]: the daemon and its CLI
// (gateway/cli/main.ts) as ONE minified ES module, built by esbuild from the TypeScript sources.
// The Debian package installs it as /opt/laundry-gateway/bin/laundry-gateway.mjs (what the unit
// and /usr/bin/laundry-gateway run); the footprint bench measures it the same way.
//
// Why one file (docs/performance.md, section 8): V8 keeps every module's source text in the heap
// and gives each module its own records; the compiled dist/ loads ~520 modules (95 of them zod's).
// One minified file, with what the daemon never calls shaken out, is that much less memory.
//
// Left outside the bundle, found in node_modules beside the file at run time:
// - better-sqlite3 and serialport (@serialport/*): native addons, located on disk by their own
//   loaders;
// - mqtt: imported lazily on first use (gateway/core/mqtt-module.ts); a room with no broker
//   never loads it, and bundling it would make every room parse it.
// zod's translated error messages (40 languages, ~260 KB minified) are replaced by English only:
// the daemon never calls z.config() with another locale, and `z.locales` is never read.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXTERNAL = ['better-sqlite3', 'serialport', '@serialport/*', 'mqtt'];

/** zod's `locales` namespace with English alone (the locale zod's own schemas import). */
const englishOnlyZod = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes(`${'/node_modules/zod/'}`) ? { path: join(dirname(args.importer), args.path), namespace: 'zod-locales' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};\n`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

/** Builds the bundle; resolves with its size in bytes. */
export async function bundleDaemon(outfile, { minify = true } = {}) {
  const r = await build({
    entryPoints: [join(ROOT, 'gateway/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    minify,
    // pino and its helpers are CommonJS that require() Node's built-ins: an ES module has no
    // `require` of its own.
    banner: { js: "import { createRequire as __lgwRequire } from 'node:module';\nconst require = __lgwRequire(import.meta.url);" },
    external: EXTERNAL,
    plugins: [englishOnlyZod],
    metafile: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const out = Object.values(r.metafile.outputs)[0];
  return out === undefined ? 0 : out.bytes;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outfile = process.argv[2];
  if (outfile === undefined) {
    process.stderr.write('usage: node scripts/package/bundle.mjs <outfile> [--no-minify]\n');
    process.exit(2);
  }
  const bytes = await bundleDaemon(outfile, { minify: !process.argv.includes('--no-minify') });
  process.stdout.write(`${outfile}: ${bytes} bytes\n`);
}

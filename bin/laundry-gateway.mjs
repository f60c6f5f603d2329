#!/usr/bin/env node
// Entry point of the `laundry-gateway` command: the daemon (`run`) and the diagnostics CLI.
// Runs the compiled JavaScript in dist/ (`npm run build`) when it is there and newer than every
// TypeScript source; otherwise the sources through tsx's loader, so a checkout runs without a
// build step. tsx compiles every module at each start (its cache is in /tmp, which the unit's
// PrivateTmp empties), which cost ~1.5 s of start-up (test/bench/startup.ts); dist/ does not.
// A dist/ older than any source is never run: it would be yesterday's code.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist/gateway/cli/main.js');

/** Newest modification time (ms) of the .ts files under dir. */
function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function compiledIsCurrent() {
  if (!existsSync(compiled)) return false;
  const built = statSync(compiled).mtimeMs;
  // The sources the daemon and the CLI are built from (tsconfig.build.json's include).
  for (const d of ['gateway', 'protocols', 'storage', 'simulator']) {
    const dir = join(root, d);
    if (existsSync(dir) && newestSource(dir) > built) {
      // Said once at daemon start (journald keeps it); the CLI's own output stays clean.
      if (process.argv[2] === 'run') process.stderr.write(`laundry-gateway: ${compiled} is older than the sources in ${d}/: running the TypeScript through tsx (run \`npm run build\` to start faster)\n`);
      return false;
    }
  }
  return true;
}

if (compiledIsCurrent()) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../gateway/cli/main.ts');
}

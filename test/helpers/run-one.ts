// Runs ONE bench or torture module in a process of its own, so each starts with a fresh heap and
// JIT, a module that leaks handles cannot hold up the next, and torture scenarios can run side
// by side. main.ts spawns:  node --import tsx test/helpers/run-one.ts <bench|torture> <name> <out.json>
// with the options as JSON in RUN_ONE_OPTIONS. The result (or the error) goes to <out.json>.
import { writeFileSync } from 'node:fs';
import { z } from 'zod';

const optionsSchema = z.object({ quick: z.boolean(), params: z.record(z.string(), z.string()), seed: z.number().int() });

const [kind, name, out] = process.argv.slice(2);
if ((kind !== 'bench' && kind !== 'torture') || name === undefined || out === undefined || !/^[a-z0-9-]+$/.test(name)) {
  process.stderr.write('usage: run-one <bench|torture> <name> <out.json>\n');
  process.exit(2);
}

const opts = optionsSchema.parse(JSON.parse(process.env.RUN_ONE_OPTIONS ?? '{"quick":false,"params":{},"seed":1}'));
const log = (line: string): void => {
  process.stderr.write(`[${name}] ${line}\n`);
};

try {
  const mod: unknown = await import(`../${kind}/${name}.ts`);
  const def = typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : undefined;
  if (typeof def !== 'object' || def === null || !('run' in def) || typeof def.run !== 'function') throw new Error(`test/${kind}/${name}.ts has no default export with run()`);
  const run = def.run as (o: unknown) => Promise<unknown>;
  const result = await run.call(def, { quick: opts.quick, params: new Map(Object.entries(opts.params)), seed: opts.seed, log });
  writeFileSync(out, JSON.stringify({ ok: true, result }));
  process.exit(0);
} catch (e) {
  writeFileSync(out, JSON.stringify({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
  process.exit(1);
}

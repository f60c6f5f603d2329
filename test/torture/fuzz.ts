// Fuzzing of every input that comes from outside the process, with fast-check: card reader and
// QR scanner bytes, scanner text and vend tokens, Modbus replies and register values, MQTT
// downlink payloads, configuration files, control socket request lines and status page requests. Each input gets `runs` cases (100 000 by default, 2 000
// quick) through the same entry point the daemon uses; every case must end accepted or rejected
// with a reason, nothing may throw but the documented typed errors, a refusal must leave the
// ledger untouched, and generated valid inputs must still pass. A counterexample is a violation
// that carries the seed and fast-check's path, so it replays alone:
//   npm run torture -- --only fuzz --seed S --set fuzz.only=<property id> --set fuzz.path=<path>
// Parameters: runs (cases per input), inputs (comma list: readers,tokens,modbus,downlinks,config,control,web),
// only (property id prefix), path (with only: one counterexample).
import { fuzzConfig } from './fuzz-config.js';
import { fuzzControl } from './fuzz-control.js';
import { fuzzDownlinks } from './fuzz-downlinks.js';
import { fuzzModbus } from './fuzz-modbus.js';
import { fuzzReaders } from './fuzz-readers.js';
import { fuzzTokens } from './fuzz-tokens.js';
import { fuzzWeb } from './fuzz-web.js';
import type { FuzzEnv, InputReport } from './fuzz-common.js';
import { numParam, type TortureModule, type TortureResult } from './types.js';

const INPUTS: Record<string, (env: FuzzEnv) => Promise<InputReport>> = {
  readers: fuzzReaders,
  tokens: fuzzTokens,
  modbus: fuzzModbus,
  downlinks: fuzzDownlinks,
  config: fuzzConfig,
  control: fuzzControl,
  web: fuzzWeb,
};

const fuzz: TortureModule = {
  name: 'fuzz',
  title: 'fast-check over every outside input: reader bytes, tokens, Modbus replies, downlinks, config files, control socket, web API',
  async run(opts): Promise<TortureResult> {
    const runs = numParam(opts, 'runs', 100_000, 2000);
    const only = opts.params.get('only');
    const path = opts.params.get('path');
    const wanted = (opts.params.get('inputs') ?? Object.keys(INPUTS).join(','))
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0 && (only === undefined || only.startsWith(`${s}.`) || s.startsWith(only)));
    for (const w of wanted) if (!(w in INPUTS)) throw new Error(`no fuzz input named ${w}; there are: ${Object.keys(INPUTS).join(', ')}`);
    const figures: Record<string, number | string> = { 'cases per input (param runs)': runs, seed: opts.seed };
    const violations: string[] = [];
    const notes: string[] = [];
    const t0 = performance.now();
    for (const name of wanted) {
      const f = INPUTS[name];
      if (f === undefined) continue;
      opts.log(`fuzz ${name}: ${runs} cases`);
      const env: FuzzEnv = { runs, seed: opts.seed, log: opts.log, ...(only === undefined ? {} : { only }), ...(path === undefined ? {} : { path }) };
      const r = await f(env);
      figures[`${name} cases`] = r.runs;
      figures[`${name} verdicts`] = r.tally.cases;
      figures[`${name} accepted`] = r.tally.accepted;
      figures[`${name} rejected`] = r.tally.rejectedTotal;
      figures[`${name} seconds`] = Number(r.seconds.toFixed(1));
      figures[`${name} cases per second`] = Math.round(r.runs / Math.max(r.seconds, 1e-9));
      figures[`${name} rejected by reason`] = r.tally.reasons();
      for (const [k, v] of Object.entries(r.extra)) figures[`${name} ${k}`] = v;
      notes.push(`${name}: ${r.title}`);
      violations.push(...r.violations);
      // Every case ends in a verdict, and every verdict is counted: a property that ran without
      // verdicts tested nothing.
      if (r.runs > 0 && r.tally.cases === 0) violations.push(`${name}: ${r.runs} cases ran but none reached a verdict`);
    }
    figures['seconds'] = Number(((performance.now() - t0) / 1000).toFixed(1));
    return { name: 'fuzz', violations, figures, notes };
  },
};

export default fuzz;

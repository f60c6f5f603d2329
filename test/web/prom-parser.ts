// A small, strict parser of the Prometheus text exposition format (0.0.4) for the tests: it
// rejects what a real scraper would choke on and checks histogram invariants.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`line ${line}: bad label name "${name}"`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '\\') {
        const n = text[j + 1];
        if (n === 'n') value += '\n';
        else if (n === '\\' || n === '"') value += n;
        else throw new Error(`line ${line}: bad escape \\${n ?? ''}`);
        j += 2;
        continue;
      }
      if (c === '"') break;
      if (c === '\n') throw new Error(`line ${line}: raw newline in label value`);
      value += c;
      j += 1;
    }
    if (name in out) throw new Error(`line ${line}: duplicate label ${name}`);
    out[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (i < text.length) throw new Error(`line ${line}: expected "," between labels`);
  }
  return out;
}

function parseValue(s: string, line: number): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value "${s}"`);
  return Number(s);
}

function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length));
      if (f?.type === 'histogram') return f;
    }
  }
  return undefined;
}

export function parsePrometheus(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const lines = text.split('\n').slice(0, -1);
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    if (raw === '') return;
    if (raw.startsWith('# HELP ')) {
      const m = /^# HELP (\S+) (.*)$/.exec(raw);
      if (!m?.[1] || !NAME.test(m[1])) throw new Error(`line ${n}: bad HELP`);
      if (families.has(m[1])) throw new Error(`line ${n}: second HELP for ${m[1]}`);
      families.set(m[1], { name: m[1], help: m[2] ?? '', type: 'untyped', samples: [] });
      return;
    }
    if (raw.startsWith('# TYPE ')) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(raw);
      const f = m?.[1] ? families.get(m[1]) : undefined;
      if (!m?.[2] || !f) throw new Error(`line ${n}: TYPE without HELP before it, or bad type`);
      if (f.samples.length > 0) throw new Error(`line ${n}: TYPE after samples`);
      f.type = m[2] as Family['type'];
      return;
    }
    if (raw.startsWith('#')) return;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(raw);
    if (!m?.[1] || m[4] === undefined) throw new Error(`line ${n}: bad sample line "${raw}"`);
    const f = familyOf(m[1], families);
    if (!f) throw new Error(`line ${n}: sample ${m[1]} has no HELP/TYPE`);
    f.samples.push({ name: m[1], labels: m[3] === undefined ? {} : parseLabels(m[3], n), value: parseValue(m[4], n) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: { le: number; v: number }[]; count?: number; sum?: number }>();
  const keyOf = (l: Record<string, string>): string =>
    JSON.stringify(
      Object.entries(l)
        .filter(([k]) => k !== 'le')
        .sort(),
    );
  for (const s of f.samples) {
    const k = keyOf(s.labels);
    const e = series.get(k) ?? { buckets: [] };
    series.set(k, e);
    if (s.name === `${f.name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      e.buckets.push({ le: parseValue(le, 0), v: s.value });
    } else if (s.name === `${f.name}_count`) e.count = s.value;
    else if (s.name === `${f.name}_sum`) e.sum = s.value;
    else throw new Error(`${f.name}: unexpected sample ${s.name}`);
  }
  for (const [k, e] of series) {
    const last = e.buckets.at(-1);
    if (!last || last.le !== Infinity) throw new Error(`${f.name}${k}: no +Inf bucket last`);
    for (let i = 1; i < e.buckets.length; i++) {
      const a = e.buckets[i - 1];
      const b = e.buckets[i];
      if (!a || !b) continue;
      if (!(b.le > a.le)) throw new Error(`${f.name}${k}: bucket bounds not ascending`);
      if (b.v < a.v) throw new Error(`${f.name}${k}: bucket counts not monotonic`);
    }
    if (e.count === undefined || e.sum === undefined) throw new Error(`${f.name}${k}: missing _count or _sum`);
    if (e.count !== last.v) throw new Error(`${f.name}${k}: +Inf bucket ${last.v} != count ${e.count}`);
  }
}

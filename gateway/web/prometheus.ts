// The Prometheus text exposition format (version 0.0.4), written out: a dozen families do not
// need a client library. Names and label values are checked and escaped here, once.

export type Labels = Readonly<Record<string, string>>;

export type MetricFamily =
  | { name: string; help: string; type: 'counter' | 'gauge'; samples: { labels?: Labels; value: number }[] }
  | {
      name: string;
      help: string;
      type: 'histogram';
      /** Upper bounds ascending; +Inf is implied. `cumulative` has one count per bound, then the +Inf count. */
      series: { labels?: Labels; bounds: readonly number[]; cumulative: readonly number[]; sum: number }[];
    };

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  for (const [k] of pairs) if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`bad label name ${k}`);
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

export function formatMetrics(families: readonly MetricFamily[]): string {
  const out: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`bad metric name ${f.name}`);
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    if (f.type !== 'histogram') {
      for (const s of f.samples) out.push(`${f.name}${labelText(s.labels)} ${formatValue(s.value)}`);
      continue;
    }
    for (const s of f.series) {
      if (s.labels && 'le' in s.labels) throw new Error('histogram labels may not use "le"');
      s.bounds.forEach((b, i) => out.push(`${f.name}_bucket${labelText(s.labels, ['le', formatValue(b)])} ${s.cumulative[i] ?? 0}`));
      const count = s.cumulative[s.bounds.length] ?? s.cumulative.at(-1) ?? 0;
      out.push(`${f.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${count}`);
      out.push(`${f.name}_sum${labelText(s.labels)} ${formatValue(s.sum)}`);
      out.push(`${f.name}_count${labelText(s.labels)} ${count}`);
    }
  }
  return `${out.join('\n')}\n`;
}

// Command-line arguments shared by `npm run bench` and `npm run torture`:
//   --only a,b        run just these (by name)
//   --quick           the short version of each
//   --set n.k=v       a parameter for module n (repeatable)
//   --seed N          torture only: the seed (printed, so a failure replays)
//   --serial          torture only: no scenarios side by side
//   --strict          bench only: exit 1 when a figure misses its target
//   --out FILE        where the JSON results go
export interface RunArgs {
  only: string[] | null;
  quick: boolean;
  sets: Map<string, Map<string, string>>;
  seed: number | null;
  serial: boolean;
  strict: boolean;
  out: string | null;
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const a: RunArgs = { only: null, quick: false, sets: new Map(), seed: null, serial: false, strict: false, out: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--only':
        a.only = value().split(',').map((s) => s.trim()).filter((s) => s.length > 0);
        break;
      case '--quick':
        a.quick = true;
        break;
      case '--serial':
        a.serial = true;
        break;
      case '--strict':
        a.strict = true;
        break;
      case '--out':
        a.out = value();
        break;
      case '--seed': {
        const n = Number(value());
        if (!Number.isInteger(n)) throw new Error('--seed needs an integer');
        a.seed = n >>> 0;
        break;
      }
      case '--set': {
        const m = /^([a-z0-9-]+)\.([A-Za-z0-9_-]+)=(.*)$/.exec(value());
        if (m === null || m[1] === undefined || m[2] === undefined || m[3] === undefined) throw new Error('--set takes name.key=value');
        const forModule = a.sets.get(m[1]) ?? new Map<string, string>();
        forModule.set(m[2], m[3]);
        a.sets.set(m[1], forModule);
        break;
      }
      default:
        throw new Error(`unknown argument ${String(arg)}`);
    }
  }
  return a;
}

/** One line about the machine, printed above every result so figures carry their context. */
export async function machineLine(): Promise<string> {
  const os = await import('node:os');
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const [l1] = os.loadavg();
  return `${os.hostname()} · ${cpu} × ${os.cpus().length} · ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB · ${os.type()} ${os.release()} · Node ${process.version} · load ${(l1 ?? 0).toFixed(2)}`;
}

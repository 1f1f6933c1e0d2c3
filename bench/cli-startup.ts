// CLI start-up: CPU time (user + sys) of the whole `cutover` process, median of --runs runs, for
// `--version`, `--help` and `status` against a live server; from the clone (./bin/cutover) and from
// the built package (npm pack, then npm install -g into a temp prefix, as test/package-install does).
//
//   node bench/cli-startup.ts [--runs 11] [--from clone|package|both] [--clone DIR]
//
// --clone: another checkout's bin/cutover for the clone rows (e.g. an earlier commit's, for a
// before/after comparison under the same load).
//
// CPU time, not wall time: on a shared 2-core machine the wall clock mostly measures the neighbours.
// Each run is `bash -c '"$@" >/dev/null 2>&1; times'`: bash's `times` prints the CPU time of its
// waited-for children (the cutover process, and the sh of bin/cutover it execs from), not its own.
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../src/testing/index.ts';
import { startCutover } from './lib/cutover-process.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const RUNS = Number(flag('--runs', '11'));
const FROM = flag('--from', 'both');
const SYSTEM_NPM = '/usr/bin/npm';
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

/** User + sys CPU ms of one run of `argv` (its children included), from bash's `times`. */
function cpuMs(argv: string[], env: NodeJS.ProcessEnv): number {
  const r = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; times', '_', ...argv], { env, encoding: 'utf8' });
  const lines = r.stdout.trim().split('\n');
  const [user, sys] = (lines[1] ?? '').trim().split(/\s+/).map(seconds);
  return (user! + sys!) * 1000;
}

function seconds(text: string): number {
  const m = /^(\d+)m([\d.]+)s$/.exec(text);
  if (!m) throw new Error(`unexpected times output: ${text}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function run(
  file: string,
  argv: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, argv, { ...options, maxBuffer: 16 << 20, timeout: 300_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${argv.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    ),
  );
}

/** Packs the clone (the prepack build included) and installs the tarball into a temp prefix. */
async function installPackage(dir: string): Promise<string> {
  const env = { HOME: process.env.HOME, PATH: SYSTEM_PATH };
  const out = await run(SYSTEM_NPM, ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, env });
  const [packed] = JSON.parse(out.slice(out.search(/^\[/m))) as { filename: string }[];
  const prefix = join(dir, 'prefix');
  await run(
    SYSTEM_NPM,
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(dir, packed!.filename),
    ],
    { cwd: dir, env },
  );
  return join(prefix, 'bin', 'cutover');
}

const rows: string[] = [];
const tmp = await mkdtemp(join(tmpdir(), 'cutover-cli-startup-'));
const server = await startCutover();
try {
  const bins: [string, string][] = [];
  if (FROM !== 'package') bins.push(['clone', join(flag('--clone', ROOT), 'bin', 'cutover')]);
  if (FROM !== 'clone') bins.push(['package', await installPackage(tmp)]);
  const env = {
    ...process.env,
    CUTOVER_URL: server.apiUrl,
    CUTOVER_TOKEN: server.token,
    XDG_CONFIG_HOME: join(tmp, 'xdg'),
  };
  for (const [from, bin] of bins) {
    for (const command of [['--version'], ['--help'], ['status']]) {
      cpuMs([bin, ...command], env); // warm the page cache; not counted
      const samples = Array.from({ length: RUNS }, () => cpuMs([bin, ...command], env));
      const target = command[0] === 'status' ? 150 : 100;
      const m = median(samples);
      rows.push(
        `| ${from} | \`cutover ${command.join(' ')}\` | ${m.toFixed(0)} | ${Math.min(...samples).toFixed(0)}–${Math.max(...samples).toFixed(0)} | ≤ ${target} | ${m <= target ? 'met' : 'MISSED'} |`,
      );
    }
  }
} finally {
  await server.stop();
  await rm(tmp, { recursive: true, force: true });
}
console.log(
  `CLI start-up, CPU time (user + sys) in ms, median of ${RUNS} runs; ${cpus().length} × ${cpus()[0]?.model}; load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}\n`,
);
console.log('| from | command | median | range | target | |\n|---|---|---|---|---|---|');
console.log(rows.join('\n'));

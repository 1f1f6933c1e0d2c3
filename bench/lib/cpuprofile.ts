/**
 * Reads a V8 `.cpuprofile` (as written by `node --cpu-prof`) and says where the time went: self
 * time per function and per area (router source, undici, Node internals, GC…), also per request.
 */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The parts of a `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self time of one function or area, µs. */
export interface SelfTime {
  name: string;
  us: number;
}

/** Which part of the code a frame belongs to. */
export function area(url: string, functionName: string): string {
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle (event loop waiting)';
  if (functionName === '(program)') return '(program): native, not attributed to JS';
  if (url.includes('/src/router/')) return 'router (src/router)';
  if (url.includes('/src/')) return 'other Cutover source';
  if (url.includes('/undici/')) return 'undici';
  if (url.startsWith('node:')) return 'Node internals (node:*)';
  if (url === '') return 'native / builtins (no url)';
  return 'other';
}

function short(url: string): string {
  const i = url.lastIndexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 14);
  const s = url.indexOf('/src/');
  return s >= 0 ? url.slice(s + 1) : url.replace(/^file:\/\//, '');
}

/** Self time per function (name, file:line) and per area, largest first. */
export function selfTimes(profile: CpuProfile): { total: number; functions: SelfTime[]; areas: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const perNode = new Map<number, number>();
  profile.samples.forEach((id, i) => perNode.set(id, (perNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let total = 0;
  for (const [id, us] of perNode) {
    const f = byId.get(id)?.callFrame;
    if (!f) continue;
    total += us;
    const key =
      `${f.functionName || '(anonymous)'}  ${f.url ? `${short(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
    functions.set(key, (functions.get(key) ?? 0) + us);
    const a = area(f.url, f.functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m].map(([name, us]) => ({ name, us })).sort((a, b) => b.us - a.us);
  return { total, functions: sorted(functions), areas: sorted(areas) };
}

/** A printable summary: areas, then the `top` functions, each as % of busy time and µs per request. */
export function profileLines(profile: CpuProfile, requests: number, top = 25): string[] {
  const { total, functions, areas } = selfTimes(profile);
  const idle = areas.find((a) => a.name.startsWith('idle'))?.us ?? 0;
  const busy = total - idle;
  const line = (s: SelfTime) =>
    `${((100 * s.us) / busy).toFixed(1).padStart(5)} %  ${(s.us / requests).toFixed(2).padStart(6)} µs/req  ${s.name}`;
  return [
    `profile: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy, ${requests} requests → ${(busy / requests).toFixed(1)} µs busy per request (the profiler itself adds some)`,
    'by area (self time; % of busy time):',
    ...areas.filter((a) => !a.name.startsWith('idle')).map((a) => `  ${line(a)}`),
    `top ${top} functions by self time:`,
    ...functions
      .filter((f) => !f.name.startsWith('(idle)'))
      .slice(0, top)
      .map((f) => `  ${line(f)}`),
  ];
}

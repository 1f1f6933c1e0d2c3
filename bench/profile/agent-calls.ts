/**
 * Profiling aid: times the agent's control API directly (no control plane in between), quiet and
 * while a tight GET loop runs through the router, to split a flip's cost into "one round trip to
 * the agent" (GET describe) and "what the flip adds" (persisting the agent state, then activating).
 * The instance is flipped back to where the control plane left it at the end.
 * Usage: node profile/agent-calls.ts
 */
import { readFile } from 'node:fs/promises';
import { Client } from 'undici';
import { apiCall, withCutover } from '../lib/cutover-process.ts';
import { header, row, summarise } from '../lib/stats.ts';

await withCutover({ name: 'agent-calls', deadlineMs: 180_000 }, async (c) => {
  await c.publish(['1.0.0', '1.1.0']);
  const created = await c.cli(['instance', 'create', 'web', '--app', 'hello', '--host', 'web.test']);
  if (created.code !== 0) throw new Error(created.stdout + created.stderr);
  for (const v of ['1.0.0', '1.1.0'])
    await apiCall(c, 'POST', '/api/instances/web/deploy?wait=60000', { version: v });
  const agentUrl = (JSON.parse(await readFile(`${c.dataDir}/private/agent.json`, 'utf8')) as { url: string }).url;
  const agentToken = (await readFile(`${c.dataDir}/private/agent-token`, 'utf8')).trim();
  const agent = new Client(agentUrl, { pipelining: 1, keepAliveTimeout: 60_000 });
  const router = new Client(c.routerUrl, { pipelining: 1, keepAliveTimeout: 60_000 });
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const t = performance.now();
    const res = await agent.request({
      method,
      path,
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : null,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) throw new Error(text);
    return performance.now() - t;
  };
  let polling = false;
  let polls = 0;
  const poller = async () => {
    while (polling) {
      const res = await router.request({
        method: 'GET',
        path: '/api/version',
        headers: { host: 'web.test' },
      });
      await res.body.dump();
      polls++;
    }
  };
  const series = async (label: string) => {
    const out = { flip: [] as number[], describe: [] as number[], health: [] as number[] };
    let color: 'blue' | 'green' = 'blue';
    for (let i = 0; i < 104; i++) {
      color = color === 'blue' ? 'green' : 'blue';
      const f = await call('POST', '/v1/instances/web/flip', { color });
      const d = await call('GET', '/v1/instances/web');
      const h = await call('GET', '/v1/health');
      if (i >= 4) {
        out.flip.push(f);
        out.describe.push(d);
        out.health.push(h);
      }
    }
    console.log(label);
    console.log(row('  agent POST flip (persist state, activate)', summarise(out.flip)));
    console.log(row('  agent GET describe (one round trip, auth)', summarise(out.describe)));
    console.log(row('  agent GET /v1/health (round trip, no auth)', summarise(out.health)));
  };
  console.log(header());
  await series('quiet:');
  polling = true;
  const loop = poller();
  await series('with a tight GET loop through the router:');
  polling = false;
  await loop;
  console.log(`(${polls} router requests during the loaded series)`);
  const status = await apiCall<{ activeColor: 'blue' | 'green' }>(c, 'GET', '/api/instances/web');
  await call('POST', '/v1/instances/web/flip', { color: status.activeColor });
  await agent.close();
  await router.close();
});

// The example app's release test (a manifest's `tests:`, see docs/manifest.md). Cutover runs it on
// the agent's machine from the release's own files, as the instance's slots run: `smoke` before
// the flip, through the router's preview route with a token made for it; `verify` after the flip,
// as users see the app (no token). It gets only CUTOVER_PREVIEW_URL, CUTOVER_PREVIEW_TOKEN,
// CUTOVER_TEST_KIND and APP_VERSION (plus PATH, HOME, LANG, TZ, USER, SHELL). Exit 0 passes.
import { request } from 'node:http';

const url = new URL(process.env.CUTOVER_PREVIEW_URL);
const token = process.env.CUTOVER_PREVIEW_TOKEN ?? '';
const kind = process.env.CUTOVER_TEST_KIND;
const expected = process.env.APP_VERSION;

// The URL names the instance's host; on the agent's machine the router answers on loopback, so
// this connects there and sends the host name, as a browser reaching the host would.
const get = (headers) =>
  new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port: Number(url.port || 80), path: '/api/version', agent: false, headers: { host: url.host, ...headers } };
    const req = request(options, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, version: res.headers['x-app-version'] }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject).end();
  });

const seen = await get(token ? { 'x-cutover-preview': token } : {});
console.log(`${kind}: ${url.origin} answered ${seen.status} from ${seen.version} (expected ${expected})`);
let ok = seen.status === 200 && seen.version === expected;
if (token) {
  // The preview route is closed to anyone without the token.
  const denied = await get({ 'x-cutover-preview': `${token}-not-it` });
  console.log(`${kind}: without the token the preview answered ${denied.status}`);
  ok &&= denied.status === 403;
}
process.exit(ok ? 0 : 1);

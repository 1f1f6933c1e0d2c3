// Cutover version signal, no dependencies. Import watchVersion, or load with ?auto and
// listen for `cutover:update` on document.

/**
 * Calls onUpdate(info) and dispatches `cutover:update` (detail: info) once per served version
 * that differs from the page's (options.current, <meta name="cutover-version">, or the first
 * seen). Server-Sent Events, else polls the JSON every pollMs. Returns stop().
 */
export function watchVersion(options = {}) {
  const url = options.url || '/.well-known/cutover/version';
  const doc = typeof document === 'object' ? document : null;
  const meta = doc?.querySelector?.('meta[name="cutover-version"]');
  let current = options.current || meta?.content || null;
  let announced = null;
  let source = null;
  let timer = null;
  let stopped = false;
  const seen = (info) => {
    if (!info?.version) return;
    current ??= info.version;
    if (info.version === current || info.version === announced) return;
    announced = info.version;
    options.onUpdate?.(info);
    doc?.dispatchEvent?.(new window.CustomEvent('cutover:update', { detail: info }));
  };
  const poll = async () => {
    try {
      const res = await fetch(url, { cache: 'no-store' });
      if (res.ok) seen(await res.json());
    } catch {
      // Offline: next tick.
    }
    if (!stopped) timer = setTimeout(poll, options.pollMs || 30000);
  };
  if (typeof EventSource === 'function') {
    source = new EventSource(url);
    source.addEventListener('version', (e) => {
      try {
        seen(JSON.parse(e.data));
      } catch {
        // Ignore.
      }
    });
    // EventSource gives up (CLOSED) on an answer that is not a stream.
    source.onerror = () => {
      if (source?.readyState === 2 && !stopped) {
        source = null;
        poll();
      }
    };
  } else poll();
  return () => {
    stopped = true;
    source?.close();
    clearTimeout(timer);
  };
}

if (new URL(import.meta.url).searchParams.has('auto')) watchVersion();

/**
 * A spawn error's text without the values of the environment it was given (review L12: Node's
 * "must be a string without null bytes. Received 'x\x00y'" put an env value into the audit log,
 * which is immutable, and into the logs). The values may be secrets even though the docs say
 * not to put secrets there. Node's "Received …" tail is dropped, and any value of 4 characters or
 * more still found is replaced by `<value of KEY>` (shorter ones would match ordinary words).
 */
export function scrubEnvValues(text: string, env: Record<string, string>): string {
  let out = text.replace(/\.?\s*Received\b[\s\S]*$/, '.');
  const entries = Object.entries(env)
    .filter(([, v]) => v.length >= 4)
    .sort((a, b) => b[1].length - a[1].length);
  for (const [key, value] of entries) {
    for (const form of [value, JSON.stringify(value).slice(1, -1), value.replaceAll('\0', '\\x00')]) {
      if (form.length >= 4) out = out.split(form).join(`<value of ${key}>`);
    }
  }
  return out;
}

/**
 * Escaping for everything that comes from results files. Results come from
 * brokers under test (topics, payloads, reason strings): untrusted. Every
 * string that reaches the page goes through one of these.
 */

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value (double- or single-quoted). Control characters other than \t \n \r are shown as \xNN. */
export function esc(value: unknown): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
  return s
    .replace(/[&<>"']/g, (c) => HTML[c]!)
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** A string safe as an HTML id / fragment: letters, digits, - _ . only. */
export function idPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
}

/**
 * JSON for a `<script type="application/json">` block: `<` is written as
 * \u003c so that no `</script>` or `<!--` can end or change the block, and
 * U+2028/U+2029 are escaped too. Read back with JSON.parse(el.textContent).
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Tagged template helper: interpolations are escaped unless wrapped with raw(). */
export class Raw {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

export const raw = (html: string): Raw => new Raw(html);

type Part = string | number | Raw | undefined | null | false | readonly Part[];

function part(p: Part): string {
  if (p === undefined || p === null || p === false) return '';
  if (p instanceof Raw) return p.html;
  if (Array.isArray(p)) return (p as readonly Part[]).map(part).join('');
  return esc(String(p));
}

/** html`<td>${untrusted}</td>` escapes; nested html`` results (Raw) pass through. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Raw {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]!) + strings[i + 1]!;
  return new Raw(out);
}

/** Numbers for display: thousands separated, fixed decimals. */
export function num(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** Microseconds as a short human duration. */
export function us(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v >= 1_000_000) return `${num(v / 1_000_000, 2)} s`;
  if (v >= 1000) return `${num(v / 1000, v >= 100_000 ? 0 : v >= 10_000 ? 1 : 2)} ms`;
  return `${num(v, v >= 100 ? 0 : 1)} µs`;
}

export function bytes(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v >= 1024 * 1024) return `${num(v / 1024 / 1024, 1)} MiB`;
  if (v >= 10 * 1024) return `${num(v / 1024, 1)} KiB`;
  return `${num(v, v < 10 && v % 1 !== 0 ? 1 : 0)} B`;
}

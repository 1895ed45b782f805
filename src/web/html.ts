/** Small server-rendered pages. Every interpolated value goes through {@link esc}. */

export function esc(value: unknown): string {
  return String(value ?? "").replace(
    /[&<>"'`]/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" })[c]!,
  );
}

const CSP =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Headers for every HTML page: no scripts, no framing, no caching. */
export const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy": CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
} as const;

/** The same for a page whose one inline script is allowed by its hash (`sha256-…`), and nothing else. */
export function pageHeadersWithScript(scriptHash: string): Record<string, string> {
  return { ...PAGE_HEADERS, "content-security-policy": `${CSP}; script-src '${scriptHash}'` };
}

const STYLE = [
  "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5}",
  "code{background:#f3f3f3;padding:0 .2rem}",
  ".err{color:#a40000}",
].join("");

/** A whole page; `body` must already be escaped HTML. */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style>
</head><body>
<h1>${esc(title)}</h1>
${body}
</body></html>`;
}

/** A readable error page: a heading, what happened, what to do next. */
export function errorPage(title: string, what: string, next = `<a href="/connect">Start again</a>`): string {
  return page(title, `<p class="err" id="error">${esc(what)}</p>\n<p>${next}</p>`);
}

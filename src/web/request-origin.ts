/**
 * Where a request to the operator pages comes from, judged from its socket address and its
 * Host, Origin and Sec-Fetch-Site headers. A DNS-rebinding page reaches a loopback server
 * from the victim's own browser, so the socket looks local; its Host (and Origin) still name
 * the attacker's site, which is what these checks refuse. Pure.
 */

export function isLoopbackAddress(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.startsWith("::ffff:") ? ip.slice(7) : ip;
  return v4 === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** localhost, 127.0.0.1 or [::1], with any port; nothing else (no other names, no trailing dot). */
export function isLoopbackHost(host: string | undefined): boolean {
  return typeof host === "string" && /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i.test(host);
}

/** `host:port` as URL parsing normalises it (lower case, default port dropped), or undefined. */
function normalHost(host: string, protocol: string): string | undefined {
  try {
    const u = new URL(`${protocol}//${host}`);
    return u.username || u.password || u.pathname !== "/" ? undefined : u.host;
  } catch {
    return undefined;
  }
}

export interface OriginHeaders {
  host?: string;
  origin?: string | string[];
  "sec-fetch-site"?: string | string[];
}

/**
 * Why the request is not same-origin with its own Host, or undefined when nothing says it is
 * cross-origin. A present Origin must name the Host (the scheme may differ: TLS can end at a
 * proxy); Sec-Fetch-Site, when sent, must be `same-origin` or `none` (typed or bookmarked).
 * Another port on the same host is another origin, so `same-site` is refused too.
 */
export function crossOriginProblem(h: OriginHeaders): string | undefined {
  const fetchSite = h["sec-fetch-site"];
  const sameOrigin = fetchSite === undefined || fetchSite === "same-origin" || fetchSite === "none";
  if (!sameOrigin) return "Sec-Fetch-Site is not same-origin";
  const origin = h.origin;
  if (origin === undefined) return undefined;
  if (typeof origin !== "string" || !h.host) return "Origin does not match Host";
  let o: URL;
  try {
    o = new URL(origin);
  } catch {
    return "Origin does not match Host"; // includes the opaque "null"
  }
  if (o.protocol !== "http:" && o.protocol !== "https:") return "Origin does not match Host";
  return o.host === normalHost(h.host, o.protocol) ? undefined : "Origin does not match Host";
}

/** Methods that change nothing in Bull Board or /metrics. */
export function isSafeMethod(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

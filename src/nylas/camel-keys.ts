/**
 * The Nylas SDK's conversion of an answer's keys to camelCase (snake_case on the wire), with
 * each distinct key converted once. The SDK runs a chain of regular expressions for every key
 * of every object of every answer: for a worker that reads an events page and sends five
 * messages per job, that was a seventh of its CPU. The result is the SDK's, quirks included,
 * so the objects the worker reads are the ones the SDK would have given it.
 */

/** Distinct keys kept; metadata keys are the callers' own, so the cache is bounded. */
const MAX_CACHED = 10_000;
const cache = new Map<string, string>();

/**
 * change-case 4's `camelCase` (the SDK's), then the SDK's rule that a number joins the word
 * before it: `start_time` → `startTime`, `x-request-id` → `xRequestId`, `e_164` → `e164`.
 */
export function camelKey(key: string): string {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1\0$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1\0$2")
    .replace(/[^A-Z0-9]+/gi, "\0");
  let start = 0;
  let end = words.length;
  while (words.charAt(start) === "\0") start++;
  while (words.charAt(end - 1) === "\0") end--;
  const camel = words
    .slice(start, end)
    .split("\0")
    .map((word, i) => {
      if (i === 0) return word.toLowerCase();
      const first = word.charAt(0);
      const rest = word.slice(1).toLowerCase();
      return first >= "0" && first <= "9" ? `_${first}${rest}` : `${first.toUpperCase()}${rest}`;
    })
    .join("")
    .replace(/_+(\d+)/g, "$1");
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, camel);
  return camel;
}

/**
 * A parsed answer with every key camelCased the way the SDK does it: objects and the objects
 * in arrays are converted, other array items kept; like the SDK, a null or an array inside an
 * array becomes an object (`{}`, or keyed by index).
 */
export function camelKeys(value: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const source = value as Record<string, unknown>;
  for (const key in source) {
    const v = source[key];
    if (Array.isArray(v)) out[camelKey(key)] = v.map((item) => (typeof item === "object" ? camelKeys(item) : item));
    else if (typeof v === "object" && v !== null) out[camelKey(key)] = camelKeys(v);
    else out[camelKey(key)] = v;
  }
  return out;
}

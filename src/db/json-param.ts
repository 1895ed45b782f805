/**
 * A value as the JSON text of one statement parameter (`$1::json`). JSON.stringify writes a
 * lone UTF-16 surrogate as its escape, which Postgres refuses ("Unicode low surrogate must
 * follow a high surrogate"), failing the whole statement and every caller batched into it;
 * such a surrogate in a string value (keys are the caller's own names) is written as U+FFFD instead, as the driver's UTF-8 encoding does to text
 * parameters. The check is one scan of the text; the rewrite only runs when an escape is there.
 */
export function jsonParam(value: unknown): string {
  const json = JSON.stringify(value);
  return json.includes("\\ud") || json.includes("\\uD") ? JSON.stringify(value, wellFormedStrings) : json;
}

const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function wellFormedStrings(_key: string, v: unknown): unknown {
  return typeof v === "string" ? v.replace(LONE_SURROGATE_RE, "\ufffd") : v;
}

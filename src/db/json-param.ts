/**
 * A value as the JSON text of one statement parameter (`$1::json`). JSON.stringify writes a
 * lone UTF-16 surrogate as its escape, which Postgres refuses ("Unicode low surrogate must
 * follow a high surrogate"), failing the whole statement and every caller batched into it. A
 * string value holding one (keys are the caller's own names) goes as its well-formed copy,
 * U+FFFD in its place, as the driver's UTF-8 encoding sends text parameters. The check is one
 * scan of the text; the copy is only made when an escape is there.
 */
export function jsonParam(value: unknown): string {
  const json = JSON.stringify(value);
  // JSON.stringify writes a surrogate's escape in lower case, and only for a lone one.
  return json.includes("\\ud") ? JSON.stringify(value, wellFormedStrings) : json;
}

function wellFormedStrings(_key: string, v: unknown): unknown {
  return typeof v === "string" ? v.toWellFormed() : v;
}

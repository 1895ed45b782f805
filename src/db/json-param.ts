/**
 * A value as the JSON text of one statement parameter (`$1::json`), with every string value
 * one Postgres can store (keys are the caller's own names). JSON.stringify writes a NUL and a
 * lone UTF-16 surrogate as escapes that Postgres refuses ("unsupported Unicode escape
 * sequence", "Unicode low surrogate must follow a high surrogate"), failing the whole statement
 * and every caller batched into it; a NUL is dropped and a lone surrogate becomes U+FFFD, as the
 * driver's UTF-8 encoding sends text parameters. The check is one scan of the text; the copy is
 * only made when such an escape is there.
 */
export function jsonParam(value: unknown): string {
  const json = JSON.stringify(value);
  // JSON.stringify writes these escapes in lower case, a surrogate's only when it is lone.
  return json.includes("\\u0000") || json.includes("\\ud") ? JSON.stringify(value, storableStrings) : json;
}

function storableStrings(_key: string, v: unknown): unknown {
  return typeof v === "string" ? v.toWellFormed().replaceAll("\u0000", "") : v;
}

/**
 * The body of a POST to an unsubscribe URL. Pure. RFC 8058 has mail clients POST
 * `List-Unsubscribe=One-Click` as application/x-www-form-urlencoded or multipart/form-data;
 * the page's own forms post urlencoded with the same field (and `email` when it asks).
 */

export type FormFields = Map<string, string>;

const MAX_FIELDS = 20;

/** The fields of a urlencoded or multipart body; undefined for another type or a malformed body. */
export function parseForm(contentType: string | undefined, body: string): FormFields | undefined {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/x-www-form-urlencoded") {
    const fields: FormFields = new Map();
    for (const [k, v] of new URLSearchParams(body)) {
      if (fields.size >= MAX_FIELDS) return undefined;
      if (!fields.has(k)) fields.set(k, v);
    }
    return fields;
  }
  if (type === "multipart/form-data") {
    const boundary = /;\s*boundary="?([^";]{1,200})"?/i.exec(contentType ?? "")?.[1];
    if (!boundary) return undefined;
    const fields: FormFields = new Map();
    for (const part of body.split(`--${boundary}`).slice(1, 1 + MAX_FIELDS)) {
      const split = part.indexOf("\r\n\r\n");
      if (split < 0) continue;
      const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(part.slice(0, split))?.[1];
      if (name !== undefined && !fields.has(name)) fields.set(name, part.slice(split + 4).replace(/\r\n$/, ""));
    }
    return fields;
  }
  return undefined;
}

/** RFC 8058's one-click field: `List-Unsubscribe=One-Click`. */
export const ONE_CLICK_FIELD = "List-Unsubscribe";

export function isOneClick(fields: FormFields): boolean {
  return fields.get(ONE_CLICK_FIELD)?.trim() === "One-Click";
}

const EMAIL = /^[^\s@<>"',;]{1,64}@[^\s@<>"',;]{1,253}\.[^\s@<>"',;.]{1,63}$/;

/** A plausible address (lowercase), or undefined. */
export function readAddress(raw: string | undefined): string | undefined {
  const address = raw?.trim().toLowerCase() ?? "";
  return address.length <= 254 && EMAIL.test(address) ? address : undefined;
}

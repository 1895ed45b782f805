import { createHmac, timingSafeEqual } from "node:crypto";

/** Header Nylas signs every webhook delivery with: hex HMAC-SHA256 of the raw body. */
export const SIGNATURE_HEADER = "x-nylas-signature";

/** Hex HMAC-SHA256 of `body` keyed with `secret` (what Nylas puts in X-Nylas-Signature). */
export function signBody(body: Buffer | string, secret: string): string {
  return createHmac("sha256", secret).update(body).digest("hex");
}

/**
 * True when `signature` is the hex HMAC-SHA256 of the raw `body` under `secret`. The
 * comparison is constant-time over the decoded digest; a header of the wrong length or
 * with non-hex characters is simply false, never a thrown error.
 */
export function verifySignature(body: Buffer, signature: string | string[] | undefined, secret: string): boolean {
  if (typeof signature !== "string") return false;
  const given = signature.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(given)) return false;
  const expected = createHmac("sha256", secret).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(given, "hex"));
}

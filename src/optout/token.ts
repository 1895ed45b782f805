/**
 * Unsubscribe tokens: who may stop which reminders, signed so that a link cannot be edited
 * into another recipient's or another sender's. Pure (node:crypto only).
 *
 * A token is `base64url(payload) "." base64url(HMAC-SHA256(key, label + payload))` where the
 * payload is `version \n recipient \n sender`, both addresses lowercase. The recipient is ''
 * when the message went to several people: one link cannot say which of them clicked, so
 * the page asks. No nonce, no timestamp: the same message composes the same token, so a
 * retry sends the same payload under the same Idempotency-Key. Tokens do not expire (an
 * unsubscribe link in an old reminder must keep working).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const TOKEN_VERSION = "1";
/** Domain separation: this key signs nothing else, but the label keeps it that way. */
const LABEL = "nr-unsubscribe\n";
const MAC_BYTES = 32;
/** Addresses longer than this are not addresses (RFC 5321: 254). */
const ADDRESS_MAX = 320;

export interface OptOutSubject {
  /** Lowercase address, or '' for a message with several recipients. */
  recipient: string;
  /** Lowercase address of the grant that sent the reminder. */
  sender: string;
}

export class BadToken extends Error {
  override name = "BadToken";
}

function mac(key: string, payload: string): Buffer {
  return createHmac("sha256", key)
    .update(LABEL + payload)
    .digest();
}

/** The token of a subject; the same subject and key give the same token. */
export function signToken(key: string, subject: OptOutSubject): string {
  const recipient = subject.recipient.toLowerCase();
  const sender = subject.sender.toLowerCase();
  if (/[\n\r]/.test(recipient + sender)) throw new BadToken("an address with a line break");
  const payload = `${TOKEN_VERSION}\n${recipient}\n${sender}`;
  return `${Buffer.from(payload, "utf8").toString("base64url")}.${mac(key, payload).toString("base64url")}`;
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** The subject of a token made with `key`; throws BadToken for anything else (edited, cut, other key). */
export function verifyToken(key: string, token: string): OptOutSubject {
  if (typeof token !== "string" || token.length > 2048) throw new BadToken("not a token");
  const parts = token.split(".");
  if (parts.length !== 2 || !B64URL.test(parts[0]!) || !B64URL.test(parts[1]!)) throw new BadToken("not a token");
  const given = Buffer.from(parts[1]!, "base64url");
  const payload = Buffer.from(parts[0]!, "base64url").toString("utf8");
  // Canonical encodings only: Buffer's decoder skips stray characters a strict one refuses.
  if (Buffer.from(payload, "utf8").toString("base64url") !== parts[0] || given.toString("base64url") !== parts[1])
    throw new BadToken("not a token");
  const expected = mac(key, payload);
  // Length first: timingSafeEqual throws on different lengths, and the length is no secret.
  if (given.length !== MAC_BYTES || !timingSafeEqual(given, expected)) throw new BadToken("signature does not match");
  const fields = payload.split("\n");
  if (fields.length !== 3 || fields[0] !== TOKEN_VERSION) throw new BadToken("unknown token version");
  const [, recipient, sender] = fields as [string, string, string];
  if (!sender || sender.length > ADDRESS_MAX || recipient.length > ADDRESS_MAX) throw new BadToken("bad addresses");
  return { recipient, sender };
}

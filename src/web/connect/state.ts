import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The hosted-OAuth round trip's browser binding: a random `state` and the PKCE verifier live
 * in a short-lived cookie encrypted and authenticated with AES-256-GCM under a key derived
 * from SESSION_SECRET, so the browser (or anything that reads its cookies) cannot read the
 * verifier and nobody without the secret can forge one. The callback accepts a code only from
 * the browser that started the flow, within the cookie's lifetime; that the state is used
 * only once is kept in Redis (claim.ts). The browser's time zone, when the connect page read
 * one, travels in the same sealed cookie to the callback, which stores it with the grant.
 */

export const CONNECT_COOKIE = "nr_connect";
export const CONNECT_TTL_S = 600;

export interface ConnectState {
  state: string;
  verifier: string;
  /** Expiry, Unix ms. */
  exp: number;
  /** The browser's IANA zone, already checked (absent when the page could not read one). */
  zone?: string;
}

export interface Pkce {
  verifier: string;
  /** base64url(sha256(verifier)), RFC 7636 S256. */
  challenge: string;
}

export function newPkce(): Pkce {
  const verifier = randomBytes(48).toString("base64url"); // 64 characters, within 43-128
  return { verifier, challenge: pkceChallenge(verifier) };
}

export function pkceChallenge(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}

export function newState(): string {
  return randomBytes(24).toString("base64url");
}

const KEY_LABEL = "nightly-reminders/connect-cookie/v2";
/** Authenticated with the ciphertext: a value sealed for another purpose never opens here. */
const AAD = Buffer.from("connect.v2");
const IV_BYTES = 12;
const TAG_BYTES = 16;

function cookieKey(secret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), KEY_LABEL, 32));
}

/** base64url(iv | ciphertext | tag) of `{s, v, e, z?}`. */
export function sealState(s: ConnectState, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", cookieKey(secret), iv).setAAD(AAD);
  const fields = { s: s.state, v: s.verifier, e: s.exp, ...(s.zone !== undefined ? { z: s.zone } : {}) };
  const plain = Buffer.from(JSON.stringify(fields), "utf8");
  const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return sealed.toString("base64url");
}

export type Opened = { ok: true; value: ConnectState } | { ok: false; problem: "missing" | "tampered" | "expired" };

function decrypt(cookie: string, secret: string): Buffer | undefined {
  if (cookie.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(cookie)) return undefined;
  const bytes = Buffer.from(cookie, "base64url");
  // Only the canonical encoding: no spare bits a tamperer could flip unnoticed.
  if (bytes.toString("base64url") !== cookie || bytes.length < IV_BYTES + TAG_BYTES + 1) return undefined;
  try {
    const iv = bytes.subarray(0, IV_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", cookieKey(secret), iv, { authTagLength: TAG_BYTES }).setAAD(AAD);
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export function openState(cookie: string | undefined, secret: string, now = Date.now()): Opened {
  if (!cookie) return { ok: false, problem: "missing" };
  const plain = decrypt(cookie, secret);
  if (!plain) return { ok: false, problem: "tampered" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain.toString("utf8"));
  } catch {
    return { ok: false, problem: "tampered" };
  }
  const p = parsed as { s?: unknown; v?: unknown; e?: unknown; z?: unknown };
  if (typeof p.s !== "string" || typeof p.v !== "string" || typeof p.e !== "number") {
    return { ok: false, problem: "tampered" };
  }
  if (p.z !== undefined && typeof p.z !== "string") return { ok: false, problem: "tampered" };
  if (p.e < now) return { ok: false, problem: "expired" };
  return { ok: true, value: { state: p.s, verifier: p.v, exp: p.e, ...(p.z !== undefined ? { zone: p.z } : {}) } };
}

/** Constant-time string equality (different lengths are simply unequal). */
export function sameString(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

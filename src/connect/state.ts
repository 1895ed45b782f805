import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The hosted-OAuth round trip's browser binding: a random `state` and the PKCE verifier live
 * in a short-lived cookie signed with SESSION_SECRET (HMAC-SHA256). The callback accepts a
 * code only from the browser that started the flow, within the cookie's lifetime.
 */

export const CONNECT_COOKIE = "nr_connect";
export const CONNECT_TTL_S = 600;

export interface ConnectState {
  state: string;
  verifier: string;
  /** Expiry, Unix ms. */
  exp: number;
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

function mac(payload: string, secret: string): Buffer {
  return createHmac("sha256", secret).update(`connect.v1.${payload}`).digest();
}

export function sealState(s: ConnectState, secret: string): string {
  const payload = Buffer.from(JSON.stringify({ s: s.state, v: s.verifier, e: s.exp })).toString("base64url");
  return `${payload}.${mac(payload, secret).toString("base64url")}`;
}

export type Opened = { ok: true; value: ConnectState } | { ok: false; problem: "missing" | "tampered" | "expired" };

export function openState(cookie: string | undefined, secret: string, now = Date.now()): Opened {
  if (!cookie) return { ok: false, problem: "missing" };
  const dot = cookie.indexOf(".");
  if (dot <= 0 || cookie.length > 2048) return { ok: false, problem: "tampered" };
  const payload = cookie.slice(0, dot);
  const given = Buffer.from(cookie.slice(dot + 1), "base64url");
  const expected = mac(payload, secret);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: "tampered" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return { ok: false, problem: "tampered" };
  }
  const p = parsed as { s?: unknown; v?: unknown; e?: unknown };
  if (typeof p.s !== "string" || typeof p.v !== "string" || typeof p.e !== "number") return { ok: false, problem: "tampered" };
  if (p.e < now) return { ok: false, problem: "expired" };
  return { ok: true, value: { state: p.s, verifier: p.v, exp: p.e } };
}

/** Constant-time string equality (different lengths are simply unequal). */
export function sameString(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/**
 * Hosted OAuth: /v3/connect/auth renders a small consent page (the "provider login"),
 * submitting it redirects to the application's redirect_uri with a one-time code, and
 * /v3/connect/token exchanges the code (checking PKCE) for a token answer naming the grant.
 * One grant per email per application: re-authenticating returns the same grant id.
 */
import { createHash } from "node:crypto";
import { OAuthError } from "./errors.js";
import { randomToken, type SandboxStore } from "./store.js";
import { PROVIDERS, type Provider, type WireGrant } from "./types.js";
import { isEmail } from "./validate.js";

interface PendingAuth {
  clientId: string;
  redirectUri: string;
  state?: string;
  challenge?: string;
  method: "S256" | "plain";
  provider?: Provider;
  scope?: string[];
  loginHint?: string;
  accessType: "online" | "offline";
  expiresAt: number;
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  challenge?: string;
  method: "S256" | "plain";
  email: string;
  provider: Provider;
  scope?: string[];
  accessType: "online" | "offline";
  expiresAt: number;
}

export interface TokenResponse {
  access_token: string;
  token_type: "Bearer";
  expires_in: number;
  id_token: string;
  email: string;
  grant_id: string;
  provider: Provider;
  scope: string;
  refresh_token?: string;
}

const TEN_MINUTES = 10 * 60_000;

export class OAuthService {
  private pending = new Map<string, PendingAuth>();
  private codes = new Map<string, IssuedCode>();
  private refreshTokens = new Map<string, { grantId: string; clientId: string }>();

  constructor(
    private readonly store: SandboxStore,
    private readonly clientId: string,
    /** The application's API key (the client secret) as it is now. */
    private readonly apiKey: () => string,
    /** A sign-in completed: the grant is new (`created`) or was re-authenticated (webhooks). */
    private readonly onAuthorised: (grant: WireGrant, created: boolean) => void = () => {},
  ) {}

  reset(): void {
    this.pending.clear();
    this.codes.clear();
    this.refreshTokens.clear();
  }

  /** GET /v3/connect/auth → the consent page's HTML. */
  authorize(q: URLSearchParams): string {
    const clientId = q.get("client_id");
    if (!clientId) throw new OAuthError(400, "invalid_request", "Missing required parameter: client_id");
    if (clientId !== this.clientId) throw new OAuthError(400, "invalid_client", `Unknown client_id ${clientId}`);
    const redirectUri = q.get("redirect_uri");
    if (!redirectUri) throw new OAuthError(400, "invalid_request", "Missing required parameter: redirect_uri");
    if (!/^https?:\/\/[^\s]+$/.test(redirectUri) || !URL.canParse(redirectUri)) {
      throw new OAuthError(400, "invalid_request", "redirect_uri must be an absolute http(s) URL");
    }
    if (q.get("response_type") !== "code")
      throw new OAuthError(400, "unsupported_response_type", "response_type must be code");
    const providerRaw = q.get("provider");
    let provider: Provider | undefined;
    if (providerRaw) {
      if (!PROVIDERS.includes(providerRaw as Provider))
        throw new OAuthError(400, "invalid_request", `Unsupported provider ${providerRaw}`);
      provider = providerRaw as Provider;
    }
    const challenge = q.get("code_challenge") ?? undefined;
    // The Nylas SDK sends "s256" in lower case; accept either spelling.
    const methodLower = (q.get("code_challenge_method") ?? "plain").toLowerCase();
    if (methodLower !== "s256" && methodLower !== "plain")
      throw new OAuthError(400, "invalid_request", "code_challenge_method must be S256 or plain");
    const methodRaw = methodLower === "s256" ? "S256" : "plain";
    if (challenge !== undefined && !/^[A-Za-z0-9._~+/=-]{43,200}$/.test(challenge)) {
      throw new OAuthError(400, "invalid_request", "code_challenge must be 43-200 base64/base64url characters");
    }
    const state = q.get("state") ?? undefined;
    if (state !== undefined && state.length > 256)
      throw new OAuthError(400, "invalid_request", "state is longer than 256 characters");
    const accessType = q.get("access_type") === "offline" ? "offline" : "online";
    const scope = q.get("scope")?.split(" ").filter(Boolean);
    const loginHint = q.get("login_hint") ?? undefined;
    const id = randomToken(18);
    const p: PendingAuth = {
      clientId,
      redirectUri,
      method: methodRaw,
      accessType,
      expiresAt: this.store.now() + TEN_MINUTES,
    };
    if (state !== undefined) p.state = state;
    if (challenge !== undefined) p.challenge = challenge;
    if (provider) p.provider = provider;
    if (scope?.length) p.scope = scope;
    if (loginHint) p.loginHint = loginHint;
    this.gc();
    this.pending.set(id, p);
    return consentPage(id, p);
  }

  /** POST /v3/connect/auth/consent (the page's form) → the redirect location. */
  consent(form: URLSearchParams): string {
    const id = form.get("auth_id") ?? "";
    const p = this.pending.get(id);
    if (!p || p.expiresAt < this.store.now())
      throw new OAuthError(400, "invalid_request", "This sign-in page has expired; start again");
    const target = new URL(p.redirectUri);
    if (form.get("decision") !== "allow") {
      this.pending.delete(id);
      target.searchParams.set("error", "access_denied");
      target.searchParams.set("error_description", "The user denied access to the application");
      if (p.state !== undefined) target.searchParams.set("state", p.state);
      return target.toString();
    }
    const email = (form.get("email") ?? "").trim();
    if (!isEmail(email)) throw new OAuthError(400, "invalid_request", "Enter a valid email address");
    const providerRaw = form.get("provider") || p.provider || "google";
    if (!PROVIDERS.includes(providerRaw as Provider))
      throw new OAuthError(400, "invalid_request", `Unsupported provider ${providerRaw}`);
    this.pending.delete(id);
    const code = randomToken(32);
    const issued: IssuedCode = {
      clientId: p.clientId,
      redirectUri: p.redirectUri,
      method: p.method,
      email,
      provider: providerRaw as Provider,
      accessType: p.accessType,
      expiresAt: this.store.now() + TEN_MINUTES,
    };
    if (p.challenge !== undefined) issued.challenge = p.challenge;
    if (p.scope) issued.scope = p.scope;
    this.codes.set(code, issued);
    target.searchParams.set("code", code);
    if (p.state !== undefined) target.searchParams.set("state", p.state);
    return target.toString();
  }

  /** POST /v3/connect/token. */
  token(body: Record<string, unknown>): TokenResponse {
    const str = (k: string): string | undefined =>
      typeof body[k] === "string" && body[k] !== "" ? (body[k] as string) : undefined;
    const clientId = str("client_id");
    if (!clientId) throw new OAuthError(400, "invalid_request", "Missing required parameter: client_id");
    const grantType = str("grant_type");
    if (!grantType) throw new OAuthError(400, "invalid_request", "Missing required parameter: grant_type");
    if (clientId !== this.clientId) throw new OAuthError(401, "invalid_client", "Unknown client_id");
    if (str("client_secret") !== this.apiKey())
      throw new OAuthError(401, "invalid_client", "client_secret is not this application's API key");
    if (grantType === "refresh_token") return this.refresh(str("refresh_token"), clientId);
    if (grantType !== "authorization_code")
      throw new OAuthError(400, "unsupported_grant_type", `Unsupported grant_type ${grantType}`);
    const code = str("code");
    if (!code) throw new OAuthError(400, "invalid_request", "Missing required parameter: code");
    const redirectUri = str("redirect_uri");
    if (!redirectUri) throw new OAuthError(400, "invalid_request", "Missing required parameter: redirect_uri");
    const issued = this.codes.get(code);
    // Codes are single use: any exchange attempt burns the code, successful or not (as Nylas).
    this.codes.delete(code);
    if (!issued) throw new OAuthError(400, "invalid_grant", "The authorization code is invalid or was already used");
    if (issued.expiresAt < this.store.now())
      throw new OAuthError(400, "invalid_grant", "The authorization code has expired");
    if (issued.clientId !== clientId)
      throw new OAuthError(400, "invalid_grant", "The code was issued to another client");
    if (issued.redirectUri !== redirectUri)
      throw new OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization request");
    if (issued.challenge !== undefined) {
      const verifier = str("code_verifier");
      if (!verifier) throw new OAuthError(400, "invalid_grant", "Missing code_verifier for a PKCE authorization");
      if (!pkceMatches(issued.method, issued.challenge, verifier))
        throw new OAuthError(400, "invalid_grant", "code_verifier does not match code_challenge");
    }
    const { state, created } = this.store.upsertGrantByEmail(issued.email, issued.provider, issued.scope);
    this.onAuthorised({ ...state.grant }, created);
    const out = this.tokenFor(state.grant.id, clientId);
    if (issued.accessType === "offline") {
      const rt = randomToken(32);
      this.refreshTokens.set(rt, { grantId: state.grant.id, clientId });
      out.refresh_token = rt;
    }
    return out;
  }

  private refresh(token: string | undefined, clientId: string): TokenResponse {
    if (!token) throw new OAuthError(400, "invalid_request", "Missing required parameter: refresh_token");
    const r = this.refreshTokens.get(token);
    if (!r || r.clientId !== clientId) throw new OAuthError(400, "invalid_grant", "The refresh token is invalid");
    const g = this.store.getGrant(r.grantId);
    if (!g || g.grant.grant_status !== "valid")
      throw new OAuthError(400, "invalid_grant", "The grant is no longer valid; re-authenticate");
    return this.tokenFor(r.grantId, clientId);
  }

  private tokenFor(grantId: string, clientId: string): TokenResponse {
    const g = this.store.requireGrant(grantId);
    const now = this.store.nowSec();
    const idToken = [
      Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url"),
      Buffer.from(
        JSON.stringify({
          iss: "https://sandbox.nylas",
          aud: clientId,
          sub: grantId,
          email: g.grant.email,
          iat: now,
          exp: now + 3600,
        }),
      ).toString("base64url"),
      "",
    ].join(".");
    return {
      access_token: randomToken(32),
      token_type: "Bearer",
      expires_in: 3600,
      id_token: idToken,
      email: g.grant.email,
      grant_id: grantId,
      provider: g.grant.provider,
      scope: g.grant.scope.join(" "),
    };
  }

  private gc(): void {
    if (this.pending.size < 10_000 && this.codes.size < 10_000) return;
    const now = this.store.now();
    for (const [k, v] of this.pending) if (v.expiresAt < now) this.pending.delete(k);
    for (const [k, v] of this.codes) if (v.expiresAt < now) this.codes.delete(k);
  }
}

/**
 * S256 per RFC 7636 is base64url(sha256(verifier)). The Nylas Node SDK's urlForOAuth2PKCE
 * instead sends base64(hex(sha256(verifier))) without padding, which Nylas accepts too.
 */
export function pkceMatches(method: "S256" | "plain", challenge: string, verifier: string): boolean {
  if (method === "plain") return challenge === verifier;
  const digest = createHash("sha256").update(verifier).digest();
  const rfc = digest.toString("base64url");
  const sdk = Buffer.from(digest.toString("hex")).toString("base64").replace(/=+$/, "");
  return challenge === rfc || challenge === sdk;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function consentPage(id: string, p: PendingAuth): string {
  const providers = PROVIDERS.map(
    (pr) => `<option value="${pr}"${pr === (p.provider ?? "google") ? " selected" : ""}>${pr}</option>`,
  ).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in — Nylas sandbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .3rem}input,select{width:100%;padding:.4rem;font-size:1rem}.row{display:flex;gap:.6rem;margin-top:1.2rem}button{flex:1;padding:.6rem;font-size:1rem}</style>
</head><body>
<h1>Connect your account</h1>
<p>The application <code>${esc(p.clientId)}</code> asks to read your calendar and send email as you.</p>
<form method="post" action="/v3/connect/auth/consent" id="consent">
<input type="hidden" name="auth_id" value="${esc(id)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" required value="${esc(p.loginHint ?? "")}" autocomplete="email">
<label for="provider">Provider</label>
<select id="provider" name="provider">${providers}</select>
<div class="row">
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny" formnovalidate>Deny</button>
</div>
</form>
</body></html>`;
}

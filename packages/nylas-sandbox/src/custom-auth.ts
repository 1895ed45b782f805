/**
 * Custom authentication, `POST /v3/connect/custom` (administration.yaml): an application that
 * already holds its users' provider credentials turns each into a grant without a sign-in.
 * Google, Microsoft and Yahoo take `settings.refresh_token`; IMAP `imap_username` and
 * `imap_password` (hosts and ports optional); iCloud `username` and `password`; EWS `email`,
 * `ews_username` and `ews_password`; virtual calendars `email`. Like Nylas:
 *
 * - the provider must have a connector in the application (400 otherwise);
 * - the provider decides: a refresh token it did not issue, or revoked, is refused (400 with
 *   its `invalid_grant` under `provider_error`), and so is an IMAP login it refuses;
 * - the address comes from the provider (the token's owner), not from the request, and an
 *   address that already has a grant gets that grant back, re-authenticated (201 either way).
 *
 * The sandbox's "providers" issue refresh tokens as `sbx-rt.<provider>.<base64url(email)>.<any>`
 * (`providerRefreshToken`); a token or password containing `sandbox-refuse` is refused, as a
 * revoked token or a wrong password would be. Nothing here keeps or logs a credential.
 */
import { ApiError, badRequest } from "./errors.js";
import { randomToken } from "./store.js";
import { PROVIDERS, type Provider } from "./types.js";
import { isEmail, isObject } from "./validate.js";

export const TOKEN_PREFIX = "sbx-rt";
/** A credential carrying this is refused by its provider (a revoked token, a wrong password). */
export const REFUSE_MARKER = "sandbox-refuse";

/** A refresh token as the sandbox's provider issues it for `email`; `refused`: one it has revoked since. */
export function providerRefreshToken(provider: Provider, email: string, opts: { refused?: boolean } = {}): string {
  const owner = Buffer.from(email, "utf8").toString("base64url");
  return `${TOKEN_PREFIX}.${provider}.${owner}.${randomToken(12)}${opts.refused ? `.${REFUSE_MARKER}` : ""}`;
}

const TOKEN_PROVIDERS = new Set<Provider>(["google", "microsoft", "yahoo"]);

/** What a provider refuses, in its own words (Nylas relays them under `provider_error`). */
const REFUSALS: Record<string, { message: string; providerError: Record<string, unknown> }> = {
  google: {
    message: "The provider refused the refresh token: Token has been expired or revoked.",
    providerError: { error: "invalid_grant", error_description: "Token has been expired or revoked." },
  },
  microsoft: {
    message: "The provider refused the refresh token: the refresh token has expired or was revoked.",
    providerError: {
      error: "invalid_grant",
      error_description: "AADSTS70000: The provided grant has expired due to it being revoked.",
    },
  },
  yahoo: {
    message: "The provider refused the refresh token.",
    providerError: { error: "invalid_grant", error_description: "Invalid refresh token" },
  },
  login: {
    message: "The provider refused the credentials: authentication failed.",
    providerError: { error: "AUTHENTICATIONFAILED", error_description: "Invalid credentials (Failure)" },
  },
};

function refused(kind: string): ApiError {
  const r = REFUSALS[kind] ?? REFUSALS.login!;
  return new ApiError(400, "invalid_request_error", r.message, r.providerError);
}

export interface CustomAuthRequest {
  provider: Provider;
  /** The address the provider says the credentials belong to. */
  email: string;
  scope?: string[];
  state?: string;
}

/**
 * Checks the body as the spec describes it and asks the "provider" whose the credentials are.
 * `hasConnector` says whether the application has a connector for a provider.
 */
export function readCustomAuth(body: unknown, hasConnector: (p: Provider) => boolean): CustomAuthRequest {
  if (!isObject(body)) throw badRequest("request body must be a JSON object with provider and settings");
  const provider = body.provider;
  if (typeof provider !== "string" || !(PROVIDERS as readonly string[]).includes(provider))
    throw badRequest(`provider must be one of ${PROVIDERS.join(", ")}`);
  const p = provider as Provider;
  const settings = body.settings;
  if (!isObject(settings)) throw badRequest("settings must be an object");
  if (body.state !== undefined && typeof body.state !== "string") throw badRequest("state must be a string");
  if (!hasConnector(p))
    throw badRequest(
      `connector not found: the application has no ${p} connector (create one with POST /v3/connectors)`,
    );
  const str = (k: string, required: boolean): string | undefined => {
    const v = settings[k];
    if (v === undefined && !required) return undefined;
    if (typeof v !== "string" || v.trim() === "") throw badRequest(`settings.${k} is required for ${p}`);
    return v;
  };
  const port = (k: string) => {
    const v = settings[k];
    if (v === undefined) return;
    const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 65535)
      throw badRequest(`settings.${k} must be a port number (1-65535)`);
  };
  const out = (email: string): CustomAuthRequest => {
    const r: CustomAuthRequest = { provider: p, email };
    if (typeof body.state === "string") r.state = body.state;
    return r;
  };

  if (TOKEN_PROVIDERS.has(p)) {
    const token = str("refresh_token", true)!;
    const email = tokenOwner(token, p);
    if (email === undefined || token.includes(REFUSE_MARKER)) throw refused(p);
    return out(email);
  }
  if (p === "imap") {
    const user = str("imap_username", true)!;
    const password = str("imap_password", true)!;
    for (const k of ["imap_host", "smtp_host"]) str(k, false);
    port("imap_port");
    port("smtp_port");
    if (!isEmail(user)) throw badRequest("settings.imap_username must be the user's email address");
    if (password.includes(REFUSE_MARKER)) throw refused("login");
    return out(user);
  }
  if (p === "icloud") {
    const user = str("username", true)!;
    const password = str("password", true)!;
    if (!isEmail(user)) throw badRequest("settings.username must be the user's iCloud address");
    if (password.includes(REFUSE_MARKER)) throw refused("login");
    return out(user);
  }
  if (p === "ews") {
    const email = str("email", true)!;
    str("ews_username", true);
    const password = str("ews_password", true)!;
    str("ews_host", false);
    port("ews_port");
    if (!isEmail(email)) throw badRequest("settings.email must be an email address");
    if (password.includes(REFUSE_MARKER)) throw refused("login");
    return out(email);
  }
  // virtual-calendar: any identifier, the spec says; the sandbox keeps grants by address.
  const email = str("email", true)!;
  if (!isEmail(email)) throw badRequest("settings.email must be an address-like identifier (name@domain)");
  return out(email);
}

/** The address a sandbox-issued refresh token belongs to, if the token is one of `provider`'s. */
function tokenOwner(token: string, provider: Provider): string | undefined {
  const [prefix, issuer, owner] = token.split(".");
  if (prefix !== TOKEN_PREFIX || issuer !== provider || !owner) return undefined;
  const email = Buffer.from(owner, "base64url").toString("utf8");
  return isEmail(email) ? email : undefined;
}

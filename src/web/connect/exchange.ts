/**
 * POST /v3/connect/token: the authorization code (plus the PKCE verifier) for the grant it
 * authorised. The API key is the client secret; it goes in the body and nowhere else, and
 * errors carry only what Nylas said about the code.
 */

export interface ExchangeRequest {
  apiUri: string;
  clientId: string;
  apiKey: string;
  code: string;
  redirectUri: string;
  codeVerifier: string;
  timeoutMs?: number;
}

export interface ExchangedGrant {
  grantId: string;
  email: string;
  provider: string;
}

export class ExchangeError extends Error {
  override name = "ExchangeError";
  constructor(
    message: string,
    readonly status?: number,
    readonly type?: string,
  ) {
    super(message);
  }
}

export async function exchangeCode(req: ExchangeRequest, fetchImpl: typeof fetch = fetch): Promise<ExchangedGrant> {
  let res: Response;
  try {
    res = await fetchImpl(new URL("/v3/connect/token", req.apiUri), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        client_id: req.clientId,
        client_secret: req.apiKey,
        grant_type: "authorization_code",
        code: req.code,
        redirect_uri: req.redirectUri,
        code_verifier: req.codeVerifier,
      }),
      signal: AbortSignal.timeout(req.timeoutMs ?? 15_000),
    });
  } catch (err) {
    const e = err as Error;
    throw new ExchangeError(
      e.name === "TimeoutError" ? "Nylas did not answer in time" : `Nylas could not be reached (${e.message})`,
    );
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // an HTML error page from a proxy: described by the status below
  }
  if (!res.ok) {
    // OAuth errors: {error, error_description}; API errors: {error: {type, message}}.
    const err = body.error;
    const type =
      typeof err === "string"
        ? err
        : typeof (err as { type?: unknown })?.type === "string"
          ? (err as { type: string }).type
          : undefined;
    const description =
      typeof body.error_description === "string"
        ? body.error_description
        : typeof (err as { message?: unknown })?.message === "string"
          ? (err as { message: string }).message
          : undefined;
    throw new ExchangeError(
      `${type ?? `HTTP ${res.status}`}${description ? `: ${description}` : ""}`.slice(0, 300),
      res.status,
      type,
    );
  }
  const grantId = body.grant_id;
  const email = body.email;
  if (typeof grantId !== "string" || grantId.length === 0)
    throw new ExchangeError("the token answer has no grant_id", res.status);
  return {
    grantId,
    email: typeof email === "string" ? email : "",
    provider: typeof body.provider === "string" ? body.provider : "unknown",
  };
}

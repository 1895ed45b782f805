import { createHash, randomBytes } from "node:crypto";
import NylasImport, { NylasOAuthError } from "nylas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSandbox, type Sandbox } from "../src/index.js";

// Node loads the SDK's ESM build (default export = the class) while TypeScript under NodeNext
// reads its typings as CommonJS (class under `.default`): bridge the two.
type NylasClass = typeof NylasImport.default;
const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);
type Nylas = InstanceType<NylasClass>;

let sb: Sandbox;
let nylas: Nylas;
const REDIRECT = "http://127.0.0.1:9/oauth/callback";

beforeAll(async () => {
  sb = await startSandbox({ clientId: "app-123" });
  nylas = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url });
});
afterAll(async () => {
  await sb.close();
});

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

/** Opens the consent page, checks it, submits it; returns the redirect URL. */
async function consent(authUrl: string, decision: "allow" | "deny", email?: string): Promise<URL> {
  const page = await fetch(authUrl);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/text\/html/);
  const html = await page.text();
  const authId = /name="auth_id" value="([^"]+)"/.exec(html)![1]!;
  const prefilled = /id="email"[^>]*value="([^"]*)"/.exec(html)![1]!;
  const form = new URLSearchParams({ auth_id: authId, decision, email: email ?? prefilled });
  const res = await fetch(`${sb.url}/v3/connect/auth/consent`, { method: "POST", body: form, redirect: "manual" });
  expect(res.status).toBe(302);
  return new URL(res.headers.get("location")!);
}

function authUrl(extra: Record<string, string>): string {
  const u = new URL(`${sb.url}/v3/connect/auth`);
  u.search = new URLSearchParams({
    client_id: "app-123",
    redirect_uri: REDIRECT,
    response_type: "code",
    ...extra,
  }).toString();
  return u.toString();
}

describe("hosted OAuth", () => {
  it("renders a consent page prefilled from login_hint and redirects with code and state", async () => {
    const { verifier, challenge } = pkce();
    const url = authUrl({
      state: "st-1",
      code_challenge: challenge,
      code_challenge_method: "S256",
      login_hint: "dana@corp.test",
      provider: "google",
    });
    const html = await (await fetch(url)).text();
    expect(html).toContain('value="dana@corp.test"');
    expect(html).toMatch(/Allow/);
    expect(html).toMatch(/Deny/);
    const back = await consent(url, "allow");
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get("state")).toBe("st-1");
    const code = back.searchParams.get("code")!;
    expect(code.length).toBeGreaterThan(20);
    const tok = await nylas.auth.exchangeCodeForToken({
      clientId: "app-123",
      redirectUri: REDIRECT,
      code,
      codeVerifier: verifier,
    });
    expect(tok.email).toBe("dana@corp.test");
    expect(tok.provider).toBe("google");
    expect(tok.tokenType).toBe("Bearer");
    expect(tok.expiresIn).toBe(3600);
    expect(tok.accessToken).toBeTruthy();
    expect(tok.idToken).toBeTruthy();
    const grant = await nylas.grants.find({ grantId: tok.grantId });
    expect(grant.data.email).toBe("dana@corp.test");
    expect(grant.data.grantStatus).toBe("valid");
    // Codes are single use.
    const again = await nylas.auth
      .exchangeCodeForToken({ clientId: "app-123", redirectUri: REDIRECT, code, codeVerifier: verifier })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(again).toBeInstanceOf(NylasOAuthError);
    expect((again as NylasOAuthError).statusCode).toBe(400);
    expect((again as NylasOAuthError).error).toBe("invalid_grant");
  });

  it("rejects a wrong verifier (and burns the code), a wrong redirect_uri and a wrong client secret", async () => {
    const { verifier, challenge } = pkce();
    const url = authUrl({ state: "s", code_challenge: challenge, code_challenge_method: "S256" });
    let code = (await consent(url, "allow", "erin@corp.test")).searchParams.get("code")!;
    const wrong = await nylas.auth
      .exchangeCodeForToken({ clientId: "app-123", redirectUri: REDIRECT, code, codeVerifier: "not-the-verifier" })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(wrong).toBeInstanceOf(NylasOAuthError);
    expect((wrong as NylasOAuthError).error).toBe("invalid_grant");
    expect((wrong as NylasOAuthError).errorDescription).toMatch(/code_verifier/);
    const right = await nylas.auth
      .exchangeCodeForToken({ clientId: "app-123", redirectUri: REDIRECT, code, codeVerifier: verifier })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(right).toBeInstanceOf(NylasOAuthError); // the failed attempt used it up
    code = (await consent(url, "allow", "erin@corp.test")).searchParams.get("code")!;
    const badRedirect = await nylas.auth
      .exchangeCodeForToken({
        clientId: "app-123",
        redirectUri: "http://127.0.0.1:9/other",
        code,
        codeVerifier: verifier,
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((badRedirect as NylasOAuthError).error).toBe("invalid_grant");
    code = (await consent(url, "allow", "erin@corp.test")).searchParams.get("code")!;
    const res = await fetch(`${sb.url}/v3/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        client_id: "app-123",
        client_secret: "wrong",
        grant_type: "authorization_code",
        code,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
      }),
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as {
      error: string;
      error_description: string;
      error_code: string;
      request_id: string;
    };
    expect(body.error).toBe("invalid_client");
    expect(body.request_id).toBeTruthy();
    expect(body.error_description).toBeTruthy();
  });

  it("accepts the form-encoded body and the SDK's own PKCE URL", async () => {
    const { url, secret } = nylas.auth.urlForOAuth2PKCE({
      clientId: "app-123",
      redirectUri: REDIRECT,
      loginHint: "fay@corp.test",
      provider: "microsoft",
    });
    expect(url.startsWith(sb.url)).toBe(true);
    const back = await consent(url, "allow");
    const res = await fetch(`${sb.url}/v3/connect/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        client_id: "app-123",
        client_secret: sb.apiKey,
        grant_type: "authorization_code",
        code: back.searchParams.get("code")!,
        redirect_uri: REDIRECT,
        code_verifier: secret,
      }),
    });
    expect(res.status).toBe(200);
    const tok = (await res.json()) as { grant_id: string; email: string; provider: string; scope: string };
    expect(tok).toMatchObject({ email: "fay@corp.test", provider: "microsoft" });
    expect(typeof tok.scope).toBe("string");
  });

  it("returns the same grant when an email signs in again, and makes it valid again", async () => {
    const first = pkce();
    const url1 = authUrl({ code_challenge: first.challenge, code_challenge_method: "S256" });
    const c1 = (await consent(url1, "allow", "gus@corp.test")).searchParams.get("code")!;
    const t1 = await nylas.auth.exchangeCodeForToken({
      clientId: "app-123",
      redirectUri: REDIRECT,
      code: c1,
      codeVerifier: first.verifier,
    });
    sb.invalidateGrant(t1.grantId);
    const second = pkce();
    const url2 = authUrl({ code_challenge: second.challenge, code_challenge_method: "S256" });
    const c2 = (await consent(url2, "allow", "GUS@corp.test")).searchParams.get("code")!;
    const t2 = await nylas.auth.exchangeCodeForToken({
      clientId: "app-123",
      redirectUri: REDIRECT,
      code: c2,
      codeVerifier: second.verifier,
    });
    expect(t2.grantId).toBe(t1.grantId);
    expect(sb.grant(t1.grantId).grant_status).toBe("valid");
    expect(sb.grantIds().filter((id) => sb.grant(id).email.toLowerCase() === "gus@corp.test")).toHaveLength(1);
  });

  it("redirects with access_denied on Deny and validates the authorization request", async () => {
    const back = await consent(authUrl({ state: "deny-me" }), "deny");
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("error_description")).toBeTruthy();
    expect(back.searchParams.get("state")).toBe("deny-me");
    expect(back.searchParams.get("code")).toBeNull();
    const noRedirect = await fetch(`${sb.url}/v3/connect/auth?client_id=app-123&response_type=code`);
    expect(noRedirect.status).toBe(400);
    expect(((await noRedirect.json()) as { error: string }).error).toBe("invalid_request");
    const wrongClient = await fetch(authUrl({ client_id: "someone-else" }));
    expect(wrongClient.status).toBe(400);
    const badType = await fetch(authUrl({ response_type: "token" }));
    expect(badType.status).toBe(400);
  });
});

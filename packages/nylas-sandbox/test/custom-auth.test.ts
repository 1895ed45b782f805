import NylasImport, { NylasApiError } from "nylas";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { providerRefreshToken, startSandbox, type Sandbox } from "../src/index.js";

type NylasClass = typeof NylasImport.default;
const Nylas: NylasClass =
  (NylasImport as unknown as { default?: NylasClass }).default ?? (NylasImport as unknown as NylasClass);

let sb: Sandbox;
let nylas: InstanceType<NylasClass>;

beforeAll(async () => {
  sb = await startSandbox();
  nylas = new Nylas({ apiKey: sb.apiKey, apiUri: sb.url });
});
afterAll(async () => {
  await sb.close();
});
beforeEach(() => sb.reset());

const post = (body: unknown, key = sb.apiKey) =>
  fetch(`${sb.url}/v3/connect/custom`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });

describe("POST /v3/connect/custom", () => {
  it("turns a Google refresh token into a grant for the token's owner (through the SDK)", async () => {
    const res = await nylas.auth.customAuthentication({
      requestBody: {
        provider: "google" as never,
        settings: { refresh_token: providerRefreshToken("google", "Ada@Example.com") },
      },
    });
    expect(res.data).toMatchObject({ provider: "google", email: "Ada@Example.com", grantStatus: "valid" });
    expect(sb.grant(res.data.id).email).toBe("Ada@Example.com");
  });

  it("answers 201 with the spec's envelope, and the same grant for the same address again", async () => {
    const first = await post({
      provider: "microsoft",
      settings: { refresh_token: providerRefreshToken("microsoft", "bo@example.org") },
    });
    expect(first.status).toBe(201);
    const a = (await first.json()) as { request_id: string; data: { id: string; grant_status: string } };
    expect(a.request_id).toEqual(expect.any(String));
    expect(a.data.grant_status).toBe("valid");
    sb.invalidateGrant(a.data.id);
    // A new token for the same user re-authenticates the grant it has.
    const again = await post({
      provider: "microsoft",
      settings: { refresh_token: providerRefreshToken("microsoft", "BO@example.org") },
    });
    expect(again.status).toBe(201);
    const b = (await again.json()) as { data: { id: string; grant_status: string } };
    expect(b.data.id).toBe(a.data.id);
    expect(sb.grant(a.data.id).grant_status).toBe("valid");
    expect(sb.grantIds()).toHaveLength(1);
  });

  it("refuses a token its provider refuses, with the provider's invalid_grant, and creates nothing", async () => {
    for (const token of [
      providerRefreshToken("google", "cy@example.com", { refused: true }),
      "1//09XpDHQ6hq6PrCgYIARAAGAkSNwF-not-issued",
      providerRefreshToken("microsoft", "cy@example.com"), // another provider's token
    ]) {
      const res = await post({ provider: "google", settings: { refresh_token: token } });
      expect(res.status).toBe(400);
      const body = (await res.json()) as {
        error: { type: string; message: string; provider_error: { error: string } };
      };
      expect(body.error.provider_error.error).toBe("invalid_grant");
      expect(JSON.stringify(body)).not.toContain(token);
    }
    expect(sb.grantIds()).toHaveLength(0);
  });

  it("takes IMAP credentials, and refuses a login the server refuses", async () => {
    const ok = await post({
      provider: "imap",
      settings: {
        imap_username: "dee@mail.example.net",
        imap_password: "pw",
        imap_host: "imap.example.net",
        imap_port: "993",
      },
    });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { data: { email: string; provider: string } }).data).toMatchObject({
      email: "dee@mail.example.net",
      provider: "imap",
    });
    const bad = await post({
      provider: "imap",
      settings: { imap_username: "eve@mail.example.net", imap_password: "x-sandbox-refuse" },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { provider_error: { error: string } } }).error.provider_error.error).toBe(
      "AUTHENTICATIONFAILED",
    );
    const missing = await post({ provider: "imap", settings: { imap_username: "eve@mail.example.net" } });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/imap_password/);
    const port = await post({
      provider: "imap",
      settings: { imap_username: "eve@mail.example.net", imap_password: "p", imap_port: 0 },
    });
    expect(port.status).toBe(400);
  });

  it("refuses a provider without a connector, a bad body, and a wrong API key", async () => {
    sb.setConnectors({ missing: ["microsoft"] });
    const res = await post({
      provider: "microsoft",
      settings: { refresh_token: providerRefreshToken("microsoft", "f@example.com") },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { type: string; message: string } }).error).toMatchObject({
      type: "invalid_request_error",
      message: expect.stringMatching(/connector not found/),
    });
    expect((await post({ provider: "gmail", settings: {} })).status).toBe(400);
    expect((await post({ provider: "google" })).status).toBe(400);
    expect((await post({ provider: "google", settings: {} })).status).toBe(400);
    expect((await post({ provider: "google", settings: { refresh_token: "x" } }, "wrong")).status).toBe(401);
    // The control route says the same, and a reset brings the connector back.
    expect(await (await fetch(`${sb.url}/_sandbox/connectors`)).json()).toEqual({ missing: ["microsoft"] });
    sb.reset();
    expect(
      (
        await post({
          provider: "microsoft",
          settings: { refresh_token: providerRefreshToken("microsoft", "f@example.com") },
        })
      ).status,
    ).toBe(201);
  });

  it("limits the application's auth requests per second and answers 429 with Retry-After above it", async () => {
    sb.setLimits({ authRequestsPerSecond: 3 });
    // Seven at once: one second's window holds three, two windows six, so one at least is refused.
    const answers = await Promise.all(
      Array.from({ length: 7 }, (_, i) =>
        post({ provider: "google", settings: { refresh_token: providerRefreshToken("google", `u${i}@example.com`) } }),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(3);
    const limited = answers.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length + statuses.filter((s) => s === 201).length).toBe(7);
    for (const r of limited) {
      expect(r.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(((await r.json()) as { error: { type: string } }).error.type).toBe("nylas_rate_limit_exceeded");
    }
    expect(sb.limits().authRequestsPerSecond).toBe(3);
    // Through the SDK: three at once under 1/s, so one at least is an API error with status 429.
    sb.setLimits({ authRequestsPerSecond: 1 });
    const outcomes = await Promise.all(
      [1, 2, 3].map((i) =>
        nylas.auth
          .customAuthentication({
            requestBody: {
              provider: "google" as never,
              settings: { refresh_token: providerRefreshToken("google", `z${i}@example.com`) },
            },
          })
          .then(
            () => 201,
            (e: unknown) => (e instanceof NylasApiError ? e.statusCode : -1),
          ),
      ),
    );
    expect(outcomes).toContain(429);
    expect(outcomes.every((s) => s === 201 || s === 429)).toBe(true);
  });
});

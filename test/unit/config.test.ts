import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, redisTls, requireSettings } from "../../src/config.js";

const base = { NYLAS_API_KEY: "nyk_secret_value_123" };

describe("loadConfig", () => {
  it("applies defaults", () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      REDIS_URL: "redis://127.0.0.1:6379",
      DEFAULT_TIME_ZONE: "UTC",
      DEFAULT_SEND_HOUR: 18,
      WORKER_CONCURRENCY: 200,
      INCLUDE_ALL_DAY: false,
      NYLAS_API_URI: "https://api.us.nylas.com",
    });
  });

  it("checks a refused API key every 30 s by default; the interval is bounded", () => {
    expect(loadConfig(base).NYLAS_KEY_CHECK_EVERY_MS).toBe(30_000);
    expect(loadConfig({ ...base, NYLAS_KEY_CHECK_EVERY_MS: "5000" }).NYLAS_KEY_CHECK_EVERY_MS).toBe(5000);
    for (const bad of ["999", "3600001", "soon", "1.5"])
      expect(() => loadConfig({ ...base, NYLAS_KEY_CHECK_EVERY_MS: bad })).toThrow(/NYLAS_KEY_CHECK_EVERY_MS must be/);
  });

  it("DEFAULT_LOCALE: en by default; a tag the catalogue can write in", () => {
    expect(loadConfig(base).DEFAULT_LOCALE).toBe("en");
    expect(loadConfig({ ...base, DEFAULT_LOCALE: "fr-CA" }).DEFAULT_LOCALE).toBe("fr-CA");
    for (const bad of ["ja", "xx", "fr_FR!"])
      expect(() => loadConfig({ ...base, DEFAULT_LOCALE: bad })).toThrow(
        /^Invalid configuration: DEFAULT_LOCALE must be a BCP 47 locale/,
      );
  });

  it("ADMIN_API_TOKEN: optional, at least 32 characters, never echoed", () => {
    expect(loadConfig(base).ADMIN_API_TOKEN).toBeUndefined();
    const token = "t".repeat(32);
    expect(loadConfig({ ...base, ADMIN_API_TOKEN: token }).ADMIN_API_TOKEN).toBe(token);
    expect(() => loadConfig({ ...base, ADMIN_API_TOKEN: "short-secret-token" })).toThrow(
      /^Invalid configuration: ADMIN_API_TOKEN must be at least 32 characters$/,
    );
  });

  it("parses numbers, booleans and zones", () => {
    const c = loadConfig({
      ...base,
      WORKER_CONCURRENCY: "5",
      INCLUDE_ALL_DAY: "true",
      DEFAULT_TIME_ZONE: "Asia/Kathmandu",
      RATE_SENDS_PER_SEC_GOOGLE: "1.5",
    });
    expect(c.WORKER_CONCURRENCY).toBe(5);
    expect(c.INCLUDE_ALL_DAY).toBe(true);
    expect(c.DEFAULT_TIME_ZONE).toBe("Asia/Kathmandu");
    expect(c.RATE_SENDS_PER_SEC_GOOGLE).toBe(1.5);
  });

  it("reminder policy, recipient cap and lead: defaults and bounds", () => {
    expect(loadConfig(base)).toMatchObject({ REMINDER_POLICY: "organized", MAX_RECIPIENTS: 25, MIN_LEAD_MINUTES: 15 });
    expect(
      loadConfig({ ...base, REMINDER_POLICY: "external", MAX_RECIPIENTS: "500", MIN_LEAD_MINUTES: "0" }),
    ).toMatchObject({ REMINDER_POLICY: "external", MAX_RECIPIENTS: 500, MIN_LEAD_MINUTES: 0 });
    expect(loadConfig({ ...base, REMINDER_POLICY: "all", MIN_LEAD_MINUTES: "1440" })).toMatchObject({
      REMINDER_POLICY: "all",
      MIN_LEAD_MINUTES: 1440,
    });
    expect(() => loadConfig({ ...base, REMINDER_POLICY: "mine" })).toThrow(
      /^Invalid configuration: REMINDER_POLICY must be one of organized, all, external$/,
    );
    for (const bad of ["0", "501", "ten"])
      expect(() => loadConfig({ ...base, MAX_RECIPIENTS: bad })).toThrow(
        /^Invalid configuration: MAX_RECIPIENTS must be/,
      );
    for (const bad of ["-1", "1441", "15m"])
      expect(() => loadConfig({ ...base, MIN_LEAD_MINUTES: bad })).toThrow(
        /^Invalid configuration: MIN_LEAD_MINUTES must be/,
      );
  });

  it("treats blank values as unset", () => {
    expect(loadConfig({ ...base, LOG_LEVEL: "  " }).LOG_LEVEL).toBe("info");
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ["missing API key", {}, /^Invalid configuration: NYLAS_API_KEY is required$/],
    ["non-numeric concurrency", { ...base, WORKER_CONCURRENCY: "ten" }, /WORKER_CONCURRENCY must be a whole number/],
    ["zero concurrency", { ...base, WORKER_CONCURRENCY: "0" }, /WORKER_CONCURRENCY must be a number >= 1/],
    ["send hour 24", { ...base, DEFAULT_SEND_HOUR: "24" }, /DEFAULT_SEND_HOUR must be a number <= 23/],
    ["unknown zone", { ...base, DEFAULT_TIME_ZONE: "Mars/Olympus" }, /DEFAULT_TIME_ZONE must be an IANA time zone/],
    ["bad redis url", { ...base, REDIS_URL: "http://x" }, /REDIS_URL must be a URL \(redis or rediss\)/],
    ["bad database url", { ...base, DATABASE_URL: "not a url" }, /DATABASE_URL must be a URL/],
    ["bad enum", { ...base, NODE_ENV: "staging" }, /NODE_ENV must be one of development, production, test/],
    ["bad boolean", { ...base, INCLUDE_ALL_DAY: "maybe" }, /INCLUDE_ALL_DAY must be one of/],
    ["short password", { ...base, BULL_BOARD_PASSWORD: "abc" }, /BULL_BOARD_PASSWORD must be .*8/],
  ];
  it.each(bad)("rejects %s with one line", (_name, env, pattern) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(pattern);
    expect(message).not.toContain("\n");
  });

  it("never echoes a secret value", () => {
    const secrets = {
      NYLAS_API_KEY: "nyk_super_secret",
      BULL_BOARD_PASSWORD: "x",
      DATABASE_URL: "postgres://u:hunter2@h/db",
      REDIS_URL: "redis://:hunter3@h:1/0",
    };
    let message = "";
    try {
      loadConfig({ ...secrets, WORKER_CONCURRENCY: "nope" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("WORKER_CONCURRENCY");
    for (const v of ["nyk_super_secret", "hunter2", "hunter3"]) expect(message).not.toContain(v);
  });

  it("names every bad variable at once", () => {
    expect(() => loadConfig({ WORKER_CONCURRENCY: "x" })).toThrow(
      /NYLAS_API_KEY is required; WORKER_CONCURRENCY must be/,
    );
  });
});

describe("production needs https", () => {
  const prod = { ...base, NODE_ENV: "production" };
  const refused = (env: Record<string, string>): string => {
    try {
      loadConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as Error).message;
    }
    throw new Error("accepted");
  };

  it.each([
    ["PUBLIC_URL", { PUBLIC_URL: "http://reminders.example.com" }],
    ["NYLAS_API_URI", { NYLAS_API_URI: "http://api.us.nylas.com" }],
  ])("refuses an http:// %s with one line naming it, never the value", (name, env) => {
    const message = refused({ ...prod, ...env });
    expect(message).toBe(`Invalid configuration: ${name} must be an https:// URL when NODE_ENV=production`);
    expect(message).not.toContain("example.com");
    expect(message).not.toContain("nylas.com");
  });

  it("names both at once and never echoes credentials in them", () => {
    const message = refused({
      ...prod,
      PUBLIC_URL: "http://app.example.com",
      NYLAS_API_URI: "http://user:hunter2@api.example.com",
    });
    expect(message).toMatch(/NYLAS_API_URI must be an https:\/\/ URL .*; PUBLIC_URL must be an https:\/\/ URL/);
    expect(message).not.toContain("hunter2");
    expect(message).not.toContain("\n");
  });

  it("accepts https, and loopback addresses whose traffic never leaves the machine", () => {
    expect(loadConfig({ ...prod, PUBLIC_URL: "https://reminders.example.com" }).NYLAS_API_URI).toBe(
      "https://api.us.nylas.com",
    );
    for (const local of [
      "http://127.0.0.1:4010",
      "http://localhost:3000",
      "http://[::1]:4010",
      "http://app.localhost",
    ]) {
      expect(() => loadConfig({ ...prod, PUBLIC_URL: local, NYLAS_API_URI: local })).not.toThrow();
    }
    expect(() => loadConfig({ ...prod, NYLAS_API_URI: "http://127.0.0.1.example.com" })).toThrow(
      /NYLAS_API_URI must be an https/,
    );
  });

  it("is production only: the sandbox, the demo and tests run on http", () => {
    for (const NODE_ENV of ["development", "test"]) {
      expect(() =>
        loadConfig({
          ...base,
          NODE_ENV,
          PUBLIC_URL: "http://app.example.com",
          NYLAS_API_URI: "http://sandbox.example.com:4010",
        }),
      ).not.toThrow();
    }
  });
});

describe("requireSettings", () => {
  it("names what a process needs", () => {
    const c = loadConfig(base);
    expect(() => requireSettings(c, ["BULL_BOARD_USER", "BULL_BOARD_PASSWORD"], "in production")).toThrow(
      "Invalid configuration: BULL_BOARD_USER, BULL_BOARD_PASSWORD are required in production",
    );
    expect(() =>
      requireSettings(loadConfig({ ...base, NYLAS_CLIENT_ID: "abc" }), ["NYLAS_CLIENT_ID"], "for /connect"),
    ).not.toThrow();
  });
});

describe("TLS settings", () => {
  it("carries DATABASE_SSL into the URL, keeping an explicit sslmode", () => {
    const url = "postgres://u:p@db.example.com:5432/app";
    expect(loadConfig({ ...base, DATABASE_URL: url }).DATABASE_URL).toBe(url);
    expect(loadConfig({ ...base, DATABASE_URL: url, DATABASE_SSL: "no-verify" }).DATABASE_URL).toBe(
      `${url}?sslmode=no-verify`,
    );
    expect(loadConfig({ ...base, DATABASE_URL: url, DATABASE_SSL: "verify" }).DATABASE_URL).toBe(
      `${url}?sslmode=verify-full`,
    );
    expect(
      loadConfig({ ...base, DATABASE_URL: `${url}?sslmode=require`, DATABASE_SSL: "no-verify" }).DATABASE_URL,
    ).toBe(`${url}?sslmode=require`);
    expect(() => loadConfig({ ...base, DATABASE_SSL: "maybe" })).toThrow(
      /DATABASE_SSL must be one of disable, no-verify, verify/,
    );
  });

  it("skips certificate checks of rediss:// only when told", () => {
    expect(redisTls(loadConfig({ ...base, REDIS_URL: "rediss://:pw@redis.example.com:6380" }))).toEqual({});
    expect(
      redisTls(loadConfig({ ...base, REDIS_URL: "rediss://:pw@redis.example.com:6380", REDIS_TLS_VERIFY: "false" })),
    ).toEqual({ tls: { rejectUnauthorized: false } });
    expect(redisTls(loadConfig({ ...base, REDIS_TLS_VERIFY: "false" }))).toEqual({});
  });
});

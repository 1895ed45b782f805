import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../../src/config.js";
import { unsubscribeSettings } from "../../../src/optout/settings.js";

const env = { NYLAS_API_KEY: "key" };

describe("UNSUBSCRIBE_SECRET", () => {
  it("unset: no unsubscribe", () => {
    expect(unsubscribeSettings(loadConfig(env))).toBeUndefined();
  });

  it("set with PUBLIC_URL: the settings, the URL without a trailing slash", () => {
    const config = loadConfig({ ...env, UNSUBSCRIBE_SECRET: "s".repeat(16), PUBLIC_URL: "https://r.example.com/" });
    expect(unsubscribeSettings(config)).toEqual({ secret: "s".repeat(16), publicUrl: "https://r.example.com" });
  });

  it("set without PUBLIC_URL: a one-line configuration error naming it", () => {
    const config = loadConfig({ ...env, UNSUBSCRIBE_SECRET: "s".repeat(16) });
    expect(() => unsubscribeSettings(config)).toThrow(ConfigError);
    expect(() => unsubscribeSettings(config)).toThrow(/PUBLIC_URL is required with UNSUBSCRIBE_SECRET/);
  });

  it("shorter than 16 characters: refused without echoing it", () => {
    expect(() => loadConfig({ ...env, UNSUBSCRIBE_SECRET: "short-secret" })).toThrow(/UNSUBSCRIBE_SECRET/);
    expect(() => loadConfig({ ...env, UNSUBSCRIBE_SECRET: "short-secret" })).not.toThrow(/short-secret/);
  });
});

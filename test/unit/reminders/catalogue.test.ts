import { describe, expect, it } from "vitest";
import {
  CATALOGUE,
  canonicalLocale,
  isSupportedLocale,
  resolveLocale,
  type Messages,
} from "../../../src/reminders/catalogue.js";

describe("locale resolution", () => {
  it("takes the exact tag when the catalogue has it", () => {
    expect(resolveLocale("de")).toMatchObject({ tag: "de", key: "de" });
    expect(resolveLocale("fr").messages).toBe(CATALOGUE.fr);
  });

  it("falls back to the language, keeping the full tag for dates", () => {
    expect(resolveLocale("fr-CA")).toMatchObject({ tag: "fr-CA", key: "fr" });
    expect(resolveLocale("de-AT")).toMatchObject({ tag: "de-AT", key: "de" });
    // Case and form are canonicalised first.
    expect(resolveLocale("FR-ca")).toMatchObject({ tag: "fr-CA", key: "fr" });
  });

  it("else English, with the tag kept for dates when Intl knows it", () => {
    expect(resolveLocale("ja")).toMatchObject({ tag: "ja", key: "en" });
    expect(resolveLocale("ja").messages).toBe(CATALOGUE.en);
  });

  it("never throws: unset, junk or hostile tags are plain English", () => {
    for (const raw of [undefined, null, "", "not a locale", "en-\u0000", 42, "x".repeat(500), "__proto__"])
      expect(resolveLocale(raw), String(raw).slice(0, 20)).toMatchObject({ tag: "en", key: "en" });
  });

  it("accepts as a setting only tags Intl knows whose words the catalogue has", () => {
    for (const ok of ["en", "fr", "de", "fr-CA", "de-CH", "en-GB", "DE-de"])
      expect(isSupportedLocale(ok), ok).toBe(true);
    for (const bad of ["ja", "xx", "", "fr_FR!", "en-", "constructor", "__proto__", undefined])
      expect(isSupportedLocale(bad), String(bad)).toBe(false);
    expect(canonicalLocale("de-de")).toBe("de-DE");
  });

  it("every language has every fixed string, none of them English but the English", () => {
    const keys = Object.keys(CATALOGUE.en) as (keyof Messages)[];
    for (const [lang, m] of Object.entries(CATALOGUE)) {
      expect(Object.keys(m).sort(), lang).toEqual([...keys].sort());
      if (lang === "en") continue;
      expect(m.noTitle).not.toBe(CATALOGUE.en.noTitle);
      expect(m.subjectPrefix).not.toBe(CATALOGUE.en.subjectPrefix);
      expect(m.labels).not.toEqual(CATALOGUE.en.labels);
      expect(m.footer("a@b.c")).not.toBe(CATALOGUE.en.footer("a@b.c"));
    }
  });
});

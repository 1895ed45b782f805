import { describe, expect, it } from "vitest";
import type { Meeting } from "../../../src/reminders/meeting.js";
import { composeReminder, localeWording, type ReminderContext } from "../../../src/reminders/template.js";

const iso = (s: string): number => Date.parse(s) / 1000;
const START = iso("2026-11-24T08:30:00Z"); // Tuesday, 09:30 in Berlin
const meeting: Meeting = {
  eventId: "ev1",
  start: START,
  end: START + 90 * 60,
  title: "Planning",
  location: "Room 4",
  conferencingUrl: "https://meet.example.com/abc",
  organizer: { email: "boss@example.com", name: "Boss" },
  recipients: [{ email: "alice@example.com" }],
  recurring: false,
  userIsOrganizer: true,
};
const ctx: ReminderContext = {
  zone: "Europe/Berlin",
  senderEmail: "me@example.com",
  marker: "r:42",
  now: new Date("2026-11-23T18:00:00Z"),
};
const compose = (locale: string | undefined, over: Partial<Meeting> = {}, c: Partial<ReminderContext> = {}) =>
  composeReminder({ ...meeting, ...over }, { ...ctx, locale, ...c });

describe("a reminder in the grant's locale", () => {
  it("French: words from the catalogue, dates by Intl in the grant's zone", () => {
    const r = compose("fr");
    expect(r.subject).toBe("Rappel : Planning demain à 9:30 CET");
    expect(r.text).toBe(
      [
        "Rappel : vous avez une réunion demain.",
        "",
        "Planning",
        "",
        "Quand: mardi 24 novembre 2026 à 09:30 (Europe/Berlin, CET)",
        "Durée: 1 h 30 min",
        "Lieu: Room 4",
        "Rejoindre: https://meet.example.com/abc",
        "Organisateur: Boss <boss@example.com>",
        "",
        "--",
        "Rappel automatique envoyé depuis le calendrier de me@example.com.",
        "Réf.: r:42",
        "",
      ].join("\n"),
    );
    expect(r.html).toContain('<html lang="fr">');
    expect(r.html).toContain(">Quand</td>");
    expect(r.html).toContain("<p>Rappel : vous avez une réunion demain.</p>");
  });

  it("German: the same meeting", () => {
    const r = compose("de");
    expect(r.subject).toBe("Erinnerung: Planning morgen um 9:30 CET");
    expect(r.text.split("\n").slice(0, 9)).toEqual([
      "Erinnerung: Sie haben morgen einen Termin.",
      "",
      "Planning",
      "",
      "Wann: Dienstag, 24. November 2026 um 09:30 (Europe/Berlin, CET)",
      "Dauer: 1 Std. 30 Min.",
      "Ort: Room 4",
      "Teilnehmen: https://meet.example.com/abc",
      "Organisator: Boss <boss@example.com>",
    ]);
    expect(r.text).toContain("Automatische Erinnerung aus dem Kalender von me@example.com.");
  });

  it("today and a later day, and the zone of the grant, not of the host", () => {
    expect(compose("fr", {}, { now: new Date("2026-11-24T06:00:00Z") }).subject).toBe(
      "Rappel : Planning aujourd’hui à 9:30 CET",
    );
    expect(compose("de", {}, { now: new Date("2026-11-20T06:00:00Z") }).subject).toBe(
      "Erinnerung: Planning am Di., 24. Nov. um 9:30 CET",
    );
    // 08:30 UTC is 03:30 in New York.
    expect(compose("fr", {}, { zone: "America/New_York", now: new Date("2026-11-23T12:00:00Z") }).subject).toBe(
      "Rappel : Planning demain à 3:30 EST",
    );
  });

  it("all-day events and untitled meetings", () => {
    const allDay = { allDay: true, start: iso("2026-11-24T23:00:00Z"), end: iso("2026-11-26T23:00:00Z") };
    const de = compose("de", { ...allDay, title: "  " });
    expect(de.subject).toBe("Erinnerung: (ohne Titel) am Mi., 25. Nov. (ganztägig)");
    expect(de.text).toContain("Wann: Mittwoch, 25. November 2026, ganztägig (Europe/Berlin)");
    expect(de.text).toContain("Dauer: 2 Tage");
    expect(compose("fr", { ...allDay }).text).toContain(
      "Rappel : vous avez un événement sur toute la journée le mer. 25 nov.",
    );
  });

  it("the unsubscribe line in the grant's language", () => {
    const url = "https://app.example.com/unsubscribe/tok";
    const fr = compose("fr", {}, { unsubscribeUrl: url });
    expect(fr.text).toContain(`Vous ne voulez plus de ces rappels ? Se désabonner: ${url}`);
    expect(fr.html).toContain(`Vous ne voulez plus de ces rappels ? <a href="${url}">Se désabonner</a>`);
    expect(compose("de", {}, { unsubscribeUrl: url }).html).toContain(`<a href="${url}">Abmelden</a>`);
  });

  it("a region without its own words reads in its language, dated the region's way", () => {
    const r = compose("fr-CA");
    expect(r.subject).toBe("Rappel : Planning demain à 9 h 30 CET");
    expect(r.html).toContain('<html lang="fr-CA">');
  });

  it("an unknown or hostile locale is English, exactly as without one", () => {
    const plain = compose(undefined);
    for (const locale of ["en", "xx-\u202e", '"><script>', "not a tag"]) expect(compose(locale)).toEqual(plain);
    expect(plain.subject).toBe("Reminder: Planning tomorrow at 9:30 AM CET");
    expect(plain.html).toContain("<html><head>");
  });

  it("hostile values are still escaped in every language", () => {
    const hostile = {
      title: '<img src=x onerror=alert(1)> "quoted" \u202eevil\r\nBcc: x@y',
      location: "javascript:alert(1)",
      conferencingUrl: "javascript:alert(1)",
      organizer: { email: "o@example.com", name: "<b>Boss</b>" },
    };
    for (const locale of ["fr", "de", "fr-CA"]) {
      const r = compose(locale, hostile, { senderName: "<i>me</i>" });
      expect(r.subject).not.toMatch(/[\r\n\u202e]/);
      expect(r.html).not.toMatch(/<img|<b>|<i>|\u202e|href="javascript/);
      expect(r.html).toContain("&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot;");
      expect(r.html).toContain("&lt;b&gt;Boss&lt;/b&gt;");
      expect(r.text).not.toMatch(/\r|\u202e/);
      expect(r.text).not.toContain("https://"); // no link made of the hostile URL
    }
  });
});

describe("a locale's wording, built once per locale and zone", () => {
  it("is the same object for the same pair and its own for each zone and locale", () => {
    const berlin = localeWording("de", "Europe/Berlin");
    expect(localeWording("de", "Europe/Berlin")).toBe(berlin);
    const tokyo = localeWording("de", "Asia/Tokyo");
    expect(tokyo).not.toBe(berlin);
    expect(localeWording("fr", "Europe/Berlin")).not.toBe(berlin);
    // Each keeps its own zone: the cached formatters are not shared across zones.
    expect(berlin.dates.clock(START)).toBe("09:30");
    expect(tokyo.dates.clock(START)).toBe("17:30");
    expect(localeWording("de", "Europe/Berlin").dates.clock(START)).toBe("09:30");
  });

  it("reads a locale that is not a string as English, every time", () => {
    expect(localeWording(42, "Europe/Berlin").tag).toBe("en");
    expect(localeWording({ toString: () => "de" }, "Europe/Berlin").tag).toBe("en");
  });
});

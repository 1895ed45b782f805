import { describe, expect, it } from "vitest";
import { composeCancellation } from "../../../src/reminders/cancellation.js";
import { CATALOGUE } from "../../../src/reminders/catalogue.js";
import type { Meeting } from "../../../src/reminders/meeting.js";
import { composeReminder, movedNote, type ReminderContext } from "../../../src/reminders/template.js";

const iso = (s: string): number => Date.parse(s) / 1000;
const START = iso("2026-12-03T14:00:00Z"); // Thursday, 15:00 in Berlin
const WAS = iso("2026-12-03T10:00:00Z"); // 11:00 in Berlin
const base: Meeting = {
  eventId: "ev1",
  start: START,
  end: START + 1800,
  title: "Planning",
  recipients: [{ email: "alice@example.com" }],
  recurring: false,
  userIsOrganizer: true,
};
const ctx: ReminderContext = {
  zone: "Europe/Berlin",
  senderEmail: "me@example.com",
  marker: "m-1",
  now: new Date("2026-12-02T18:00:00Z"),
};
const cancel = (locale: string | undefined, over: Partial<Meeting> = {}, c: Partial<ReminderContext> = {}) =>
  composeCancellation({ ...base, cancelled: true, ...over }, { ...ctx, locale, ...c });

describe("the moved note in the grant's locale", () => {
  it("French and German: the catalogue's words, the times as the reminder formats them", () => {
    const moved = { start: START, movedFrom: WAS };
    expect(movedNote("Europe/Berlin", moved, "fr")).toBe("Déplacé : maintenant à 15:00 (auparavant 11:00)");
    expect(movedNote("Europe/Berlin", moved, "de")).toBe("Verschoben: jetzt um 15:00 (vorher 11:00)");
    // The full tag's own formats, with the language's words.
    expect(movedNote("Europe/Berlin", moved, "fr-CA")).toBe("Déplacé : maintenant à 15 h 00 (auparavant 11 h 00)");
  });

  it("names the dates, in the locale, when the old start was on another local date", () => {
    const moved = { start: START, movedFrom: WAS - 86_400 };
    expect(movedNote("Europe/Berlin", moved, "fr")).toBe(
      "Déplacé : maintenant à jeu. 3 déc., 15:00 (auparavant mer. 2 déc., 11:00)",
    );
    expect(movedNote("Europe/Berlin", moved, "de")).toBe(
      "Verschoben: jetzt um Do., 3. Dez., 15:00 (vorher Mi., 2. Dez., 11:00)",
    );
  });

  it("English, unset or unusable locales: unchanged", () => {
    for (const locale of [undefined, "en", "not a locale"])
      expect(movedNote("Europe/Berlin", { start: START, movedFrom: WAS }, locale), String(locale)).toBe(
        "Moved: now at 15:00 (was 11:00)",
      );
    expect(movedNote("Europe/Berlin", { start: START }, "fr")).toBe("");
  });

  it("is what the reminder in that locale says, in its text and HTML", () => {
    const fr = composeReminder({ ...base, movedFrom: WAS }, { ...ctx, locale: "fr" });
    expect(fr.text.split("\n").slice(0, 2)).toEqual([
      "Rappel : vous avez une réunion demain.",
      "Déplacé : maintenant à 15:00 (auparavant 11:00)",
    ]);
    expect(fr.html).toContain("<strong>Déplacé : maintenant à 15:00 (auparavant 11:00)</strong>");
    const de = composeReminder({ ...base, movedFrom: WAS }, { ...ctx, locale: "de" });
    expect(de.text).toContain("\nVerschoben: jetzt um 15:00 (vorher 11:00)\n");
    expect(de.html).toContain("<strong>Verschoben: jetzt um 15:00 (vorher 11:00)</strong>");
    expect(de.text).not.toContain("Moved");
  });
});

describe("the cancellation notice in the grant's locale", () => {
  it("French: subject, line, footer and reference in the catalogue's words, dates as the reminder's", () => {
    const c = cancel("fr");
    expect(c.subject).toBe("Annulé : Planning demain à 15:00 CET");
    expect(c.text).toBe(
      [
        "La réunion dont vous avez reçu un rappel est annulée : Planning, jeudi 3 décembre 2026 à 15:00 (Europe/Berlin).",
        "",
        "--",
        "Avis automatique envoyé depuis le calendrier de me@example.com.",
        "Réf.: m-1",
        "",
      ].join("\n"),
    );
    expect(c.html).toContain('<html lang="fr">');
    expect(c.html).toContain("<title>Annulé : Planning demain à 15:00 CET</title>");
  });

  it("German: the same notice", () => {
    const c = cancel("de");
    expect(c.subject).toBe("Abgesagt: Planning morgen um 15:00 CET");
    expect(c.text).toBe(
      [
        "Der Termin, an den Sie erinnert wurden, ist abgesagt: Planning, Donnerstag, 3. Dezember 2026 um 15:00 (Europe/Berlin).",
        "",
        "--",
        "Automatische Benachrichtigung aus dem Kalender von me@example.com.",
        "Ref.: m-1",
        "",
      ].join("\n"),
    );
    expect(c.html).toContain('<html lang="de">');
  });

  it("says the day as the reminder's subject does: today, tomorrow or a later date", () => {
    expect(cancel("fr", {}, { now: new Date("2026-12-03T06:00:00Z") }).subject).toBe(
      "Annulé : Planning aujourd’hui à 15:00 CET",
    );
    expect(cancel("de", {}, { now: new Date("2026-11-30T06:00:00Z") }).subject).toBe(
      "Abgesagt: Planning am Do., 3. Dez. um 15:00 CET",
    );
    expect(cancel("fr", {}, { now: new Date("2026-11-30T06:00:00Z") }).subject).toBe(
      "Annulé : Planning le jeu. 3 déc. à 15:00 CET",
    );
  });

  it("escapes the title in the HTML whatever the locale", () => {
    for (const locale of ["fr", "de"]) {
      const c = cancel(locale, { title: `R&D <script>alert("x")</script>` });
      expect(c.html, locale).not.toContain("<script>");
      expect(c.html, locale).toContain("R&amp;D &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
      expect(c.subject, locale).toContain(`R&D <script>alert("x")</script>`);
    }
  });

  it("untitled meetings and grants without an address read in the locale", () => {
    expect(cancel("de", { title: " " }).subject).toBe("Abgesagt: (ohne Titel) morgen um 15:00 CET");
    expect(cancel("fr", {}, { senderEmail: "" }).text).toContain(
      "Avis automatique envoyé depuis le calendrier de l’organisateur.",
    );
    expect(cancel("de", {}, { senderEmail: "" }).text).toContain(
      "Automatische Benachrichtigung aus dem Kalender des Organisators.",
    );
  });

  it("English, unset or unusable locales: exactly the English notice", () => {
    const english = cancel(undefined);
    expect(english.subject).toBe("Cancelled: Planning tomorrow at 3:00 PM CET");
    expect(english.html).toContain("<html><head>");
    expect(english.text).toBe(
      [
        "The meeting you were reminded of is cancelled: Planning, Thursday 3 December 2026, 15:00 (Europe/Berlin).",
        "",
        "--",
        "Automatic notice sent from the calendar of me@example.com.",
        "Ref: m-1",
        "",
      ].join("\n"),
    );
    for (const locale of ["en", "not a locale"]) expect(cancel(locale), locale).toEqual(english);
    expect(cancel("en", {}, { senderEmail: "" }).text).toContain(
      "Automatic notice sent from the calendar of the organizer.",
    );
  });

  it("every new catalogue entry has its own words outside English", () => {
    for (const lang of ["fr", "de"] as const) {
      const m = CATALOGUE[lang];
      expect(m.cancelledPrefix, lang).not.toBe(CATALOGUE.en.cancelledPrefix);
      expect(m.cancelledLine("T", "W"), lang).not.toBe(CATALOGUE.en.cancelledLine("T", "W"));
      expect(m.noticeFooter("a@b.c"), lang).not.toBe(CATALOGUE.en.noticeFooter("a@b.c"));
      expect(m.noticeFooter(undefined), lang).not.toBe(CATALOGUE.en.noticeFooter(undefined));
      expect(m.moved("1", "2"), lang).not.toBe(CATALOGUE.en.moved("1", "2"));
    }
  });
});

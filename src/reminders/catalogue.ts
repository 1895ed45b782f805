/**
 * The fixed wording of a reminder, per language, and which entry a grant's locale gets.
 * Pure: no I/O. Dates and times are not here: the template formats them with Intl in the
 * grant's full locale tag ("fr-CA" reads its own way) and zone; this only holds the words.
 *
 * Resolution: the exact tag if the catalogue has it, else its language ("fr-CA" → "fr"),
 * else English. A tag Intl does not know falls back the same way, never throws.
 */

export interface Messages {
  subjectPrefix: string;
  today: string;
  tomorrow: string;
  /** A later day, given as Intl's short weekday, day and month ("mar. 24 nov."). */
  onDay(date: string): string;
  /** Subject ending of a timed meeting: day word, local time, zone label. */
  at(day: string, time: string, zone: string): string;
  /** Subject ending of an all-day event. */
  allDaySuffix(day: string): string;
  /** The "When" line of an all-day event: its long date and zone. */
  allDayWhen(date: string, zone: string): string;
  intro(day: string): string;
  introAllDay(day: string): string;
  labels: { when: string; duration: string; where: string; join: string; organizer: string };
  noTitle: string;
  minutes(m: number): string;
  hours(h: number, m: number): string;
  days(n: number): string;
  /** The footer; `sender` undefined when the grant has no usable address. */
  footer(sender: string | undefined): string;
  /** The footer's unsubscribe line: the question, then the link's text. */
  unsubscribePrompt: string;
  unsubscribe: string;
  ref: string;
}

const en: Messages = {
  subjectPrefix: "Reminder: ",
  today: "today",
  tomorrow: "tomorrow",
  onDay: (date) => `on ${date}`,
  at: (day, time, zone) => ` ${day} at ${time} ${zone}`,
  allDaySuffix: (day) => ` ${day} (all day)`,
  allDayWhen: (date, zone) => `${date}, all day (${zone})`,
  intro: (day) => `Reminder: you have a meeting ${day}.`,
  introAllDay: (day) => `Reminder: you have an all-day event ${day}.`,
  labels: { when: "When", duration: "Duration", where: "Where", join: "Join", organizer: "Organizer" },
  noTitle: "(no title)",
  minutes: (m) => `${m} min`,
  hours: (h, m) => (m ? `${h} h ${m} min` : `${h} h`),
  days: (n) => `${n} days`,
  footer: (sender) => `Automatic reminder sent from the calendar of ${sender ?? "the organizer"}.`,
  unsubscribePrompt: "Don't want these reminders?",
  unsubscribe: "Unsubscribe",
  ref: "Ref",
};

const fr: Messages = {
  subjectPrefix: "Rappel : ",
  today: "aujourd’hui",
  tomorrow: "demain",
  onDay: (date) => `le ${date}`,
  at: (day, time, zone) => ` ${day} à ${time} ${zone}`,
  allDaySuffix: (day) => ` ${day} (toute la journée)`,
  allDayWhen: (date, zone) => `${date}, toute la journée (${zone})`,
  intro: (day) => `Rappel : vous avez une réunion ${day}.`,
  introAllDay: (day) => `Rappel : vous avez un événement sur toute la journée ${day}.`,
  labels: { when: "Quand", duration: "Durée", where: "Lieu", join: "Rejoindre", organizer: "Organisateur" },
  noTitle: "(sans titre)",
  minutes: (m) => `${m} min`,
  hours: (h, m) => (m ? `${h} h ${m} min` : `${h} h`),
  days: (n) => `${n} jours`,
  footer: (sender) =>
    sender
      ? `Rappel automatique envoyé depuis le calendrier de ${sender}.`
      : "Rappel automatique envoyé depuis le calendrier de l’organisateur.",
  unsubscribePrompt: "Vous ne voulez plus de ces rappels ?",
  unsubscribe: "Se désabonner",
  ref: "Réf.",
};

const de: Messages = {
  subjectPrefix: "Erinnerung: ",
  today: "heute",
  tomorrow: "morgen",
  onDay: (date) => `am ${date}`,
  at: (day, time, zone) => ` ${day} um ${time} ${zone}`,
  allDaySuffix: (day) => ` ${day} (ganztägig)`,
  allDayWhen: (date, zone) => `${date}, ganztägig (${zone})`,
  intro: (day) => `Erinnerung: Sie haben ${day} einen Termin.`,
  introAllDay: (day) => `Erinnerung: Sie haben ${day} einen ganztägigen Termin.`,
  labels: { when: "Wann", duration: "Dauer", where: "Ort", join: "Teilnehmen", organizer: "Organisator" },
  noTitle: "(ohne Titel)",
  minutes: (m) => `${m} Min.`,
  hours: (h, m) => (m ? `${h} Std. ${m} Min.` : `${h} Std.`),
  days: (n) => `${n} Tage`,
  footer: (sender) =>
    sender
      ? `Automatische Erinnerung aus dem Kalender von ${sender}.`
      : "Automatische Erinnerung aus dem Kalender des Organisators.",
  unsubscribePrompt: "Sie möchten diese Erinnerungen nicht mehr?",
  unsubscribe: "Abmelden",
  ref: "Ref.",
};

/** The catalogue, by BCP 47 tag. */
export const CATALOGUE = { en, fr, de } as const;
const BY_TAG: Readonly<Record<string, Messages>> = CATALOGUE;

export const CATALOGUE_LOCALES = Object.keys(CATALOGUE);

export interface ResolvedLocale {
  /** The tag dates and times are formatted with (canonical; the catalogue key when the tag was unusable). */
  tag: string;
  /** The catalogue entry's key. */
  key: string;
  messages: Messages;
}

/** The canonical form of a tag Intl's date formatting knows; undefined for anything else. */
export function canonicalLocale(raw: unknown): string | undefined {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > 64) return undefined;
  try {
    const [tag] = Intl.getCanonicalLocales(raw);
    if (tag === undefined || Intl.DateTimeFormat.supportedLocalesOf([tag]).length === 0) return undefined;
    return tag;
  } catch {
    return undefined;
  }
}

/** The catalogue key a canonical tag reads in: exact, else its language; undefined when neither. */
function catalogueKey(tag: string): string | undefined {
  if (Object.hasOwn(BY_TAG, tag)) return tag;
  const language = tag.split("-")[0]!.toLowerCase();
  return Object.hasOwn(BY_TAG, language) ? language : undefined;
}

/** Whether a tag can be a grant's or the deployment's locale: Intl knows it and the catalogue has its words. */
export function isSupportedLocale(raw: unknown): boolean {
  const tag = canonicalLocale(raw);
  return tag !== undefined && catalogueKey(tag) !== undefined;
}

/** The words and the date tag for a locale (undefined or unusable: English). Never throws. */
export function resolveLocale(raw: unknown): ResolvedLocale {
  const tag = canonicalLocale(raw);
  const key = (tag && catalogueKey(tag)) || "en";
  return { tag: tag ?? key, key, messages: BY_TAG[key]! };
}

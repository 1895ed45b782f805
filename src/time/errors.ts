/** Errors raised by the pure time helpers. Messages are one line and never echo more than 64 characters of input. */

function show(value: unknown): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : String(value);
  } catch {
    s = Object.prototype.toString.call(value);
  }
  // One line, bounded: control characters (incl. CR/LF) become "?".
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?");
  return s.length > 64 ? `${s.slice(0, 63)}…` : s;
}

export class TimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The zone is not a string Intl accepts as an IANA time zone. */
export class InvalidZoneError extends TimeError {
  readonly zone: unknown;
  constructor(zone: unknown) {
    super(`invalid time zone ${show(zone)}`);
    this.zone = zone;
  }
}

/** The day is not a real calendar date written YYYY-MM-DD (years 0001–9999). */
export class InvalidDayError extends TimeError {
  readonly day: unknown;
  constructor(day: unknown, why = "expected an existing date as YYYY-MM-DD") {
    super(`invalid day ${show(day)}: ${why}`);
    this.day = day;
  }
}

/** An instant argument is not a valid Date / finite number of seconds. */
export class InvalidInstantError extends TimeError {
  constructor(value: unknown) {
    super(`invalid instant ${show(value instanceof Date ? "Invalid Date" : value)}`);
  }
}

import { describe, expect, it } from "vitest";
import { calendarAccess, pickCalendar } from "../../../src/grants/calendar.js";

describe("which calendar holds a grant's meetings", () => {
  it("by provider: iCloud has no primary, IMAP no calendars", () => {
    expect(calendarAccess("google")).toBe("primary");
    expect(calendarAccess("microsoft")).toBe("primary");
    expect(calendarAccess("virtual-calendar")).toBe("primary");
    expect(calendarAccess("icloud")).toBe("list");
    expect(calendarAccess("imap")).toBe("none");
  });

  it("picks the primary calendar, else the first owned and writable one", () => {
    const shared = { id: "shared", isOwnedByUser: false, readOnly: false };
    const holidays = { id: "holidays", isOwnedByUser: true, readOnly: true };
    const home = { id: "home", isOwnedByUser: true, readOnly: false };
    const work = { id: "work", isOwnedByUser: true, readOnly: false };
    expect(pickCalendar([shared, holidays, home, work])?.id).toBe("home");
    expect(pickCalendar([shared, holidays, home, { id: "main", isPrimary: true, readOnly: true }])?.id).toBe("main");
    expect(pickCalendar([shared, holidays])).toBeUndefined();
    expect(pickCalendar([{ id: "", isPrimary: true }, work])?.id).toBe("work");
    expect(pickCalendar([])).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import {
  clearOverride,
  decideZone,
  describeZoneSource,
  isZoneSource,
  normalizeZone,
  ZONE_SOURCES,
  zoneSourceRank,
  zoneWithSource,
  type ZoneChoice,
  type ZoneSource,
} from "../../../src/grants/zone-source.js";

const at = (zone: string, source: ZoneSource): ZoneChoice => ({ zone, source });

describe("zone sources", () => {
  it("rank override > calendar > browser > events > default", () => {
    const ranks = ZONE_SOURCES.map(zoneSourceRank);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(new Set(ranks).size).toBe(5);
    expect(zoneSourceRank("override")).toBeGreaterThan(zoneSourceRank("calendar"));
    expect(zoneSourceRank("browser")).toBeGreaterThan(zoneSourceRank("events"));
    expect(zoneSourceRank("events")).toBeGreaterThan(zoneSourceRank("default"));
  });

  it("knows its names", () => {
    for (const s of ZONE_SOURCES) expect(isZoneSource(s)).toBe(true);
    for (const s of ["", "Calendar", "operator", 3, null]) expect(isZoneSource(s)).toBe(false);
  });

  it("a new grant takes the candidate", () => {
    expect(decideZone(undefined, at("Asia/Tokyo", "events"))).toEqual({
      write: true,
      to: at("Asia/Tokyo", "events"),
      zoneChanged: true,
    });
  });

  // [current, candidate, writes, zone changes]
  const cases: [ZoneChoice, ZoneChoice, boolean, boolean][] = [
    [at("UTC", "default"), at("Asia/Tokyo", "events"), true, true],
    [at("UTC", "default"), at("Asia/Tokyo", "browser"), true, true],
    [at("Asia/Tokyo", "events"), at("America/Los_Angeles", "events"), true, true], // the user moved
    [at("Asia/Tokyo", "browser"), at("America/Los_Angeles", "events"), false, false], // not by inference
    [at("Asia/Tokyo", "browser"), at("UTC", "default"), false, false],
    [at("Asia/Tokyo", "calendar"), at("Europe/Paris", "browser"), false, false],
    [at("Asia/Tokyo", "calendar"), at("Europe/Paris", "calendar"), true, true], // the calendar's zone changed
    [at("Asia/Tokyo", "browser"), at("Asia/Tokyo", "calendar"), true, false], // stronger source, same zone
    [at("Asia/Tokyo", "override"), at("Europe/Paris", "calendar"), false, false],
    [at("Asia/Tokyo", "override"), at("Asia/Tokyo", "calendar"), false, false],
    [at("Asia/Tokyo", "calendar"), at("Europe/Paris", "override"), true, true],
    [at("Asia/Tokyo", "override"), at("Europe/Paris", "override"), true, true],
    [at("UTC", "default"), at("Europe/Paris", "default"), true, true], // DEFAULT_TIME_ZONE changed
    [at("Asia/Tokyo", "events"), at("Asia/Tokyo", "events"), false, false],
  ];
  it.each(cases)("%o ← %o", (current, candidate, writes, changes) => {
    const d = decideZone(current, candidate);
    expect(d.write).toBe(writes);
    if (d.write) {
      expect(d.to).toEqual(candidate);
      expect(d.zoneChanged).toBe(changes);
    } else expect(d.why).toMatch(/\w/);
  });

  it("clearing an override keeps the zone under the weakest source", () => {
    expect(clearOverride(at("Asia/Tokyo", "override"))).toEqual({
      write: true,
      to: at("Asia/Tokyo", "default"),
      zoneChanged: false,
    });
    expect(clearOverride(at("Asia/Tokyo", "calendar"))).toMatchObject({ write: false });
    // After a clear, any automatic source replaces it.
    expect(decideZone(at("Asia/Tokyo", "default"), at("Europe/Paris", "events")).write).toBe(true);
  });

  it("normalises zone names and refuses anything else", () => {
    expect(normalizeZone("Asia/Tokyo")).toBe("Asia/Tokyo");
    expect(normalizeZone("asia/tokyo")).toBe("Asia/Tokyo");
    expect(normalizeZone("UTC")).toBe("UTC");
    for (const bad of ["", "+05:30", "-08:00", "Mars/Olympus", "x".repeat(65), 7, null, undefined])
      expect(normalizeZone(bad)).toBeUndefined();
  });

  it("says where a zone comes from", () => {
    expect(zoneWithSource("Asia/Tokyo", "calendar")).toBe("Asia/Tokyo (calendar)");
    expect(zoneWithSource("Asia/Tokyo", null)).toBe("Asia/Tokyo");
    for (const s of ZONE_SOURCES) expect(describeZoneSource(s)).toMatch(/\w/);
    expect(describeZoneSource("browser")).toMatch(/browser/);
  });
});

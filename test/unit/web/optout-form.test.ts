import { describe, expect, it } from "vitest";
import { isOneClick, parseForm, readAddress } from "../../../src/web/optout/form.js";

describe("unsubscribe POST bodies", () => {
  it("reads RFC 8058's body urlencoded", () => {
    const f = parseForm("application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")!;
    expect(isOneClick(f)).toBe(true);
    expect(isOneClick(parseForm("application/x-www-form-urlencoded; charset=utf-8", "List-Unsubscribe=Yes")!)).toBe(
      false,
    );
    expect(isOneClick(parseForm("application/x-www-form-urlencoded", "")!)).toBe(false);
  });

  it("reads it as multipart/form-data", () => {
    const body =
      '--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\nOne-Click\r\n' +
      '--XyZ\r\nContent-Disposition: form-data; name="email"\r\n\r\nann@x.com\r\n--XyZ--\r\n';
    const f = parseForm("multipart/form-data; boundary=XyZ", body)!;
    expect(isOneClick(f)).toBe(true);
    expect(f.get("email")).toBe("ann@x.com");
    expect(parseForm("multipart/form-data", body)).toBeUndefined();
  });

  it("refuses other types", () => {
    expect(parseForm("text/plain", "List-Unsubscribe=One-Click")).toBeUndefined();
    expect(parseForm(undefined, "List-Unsubscribe=One-Click")).toBeUndefined();
  });

  it("accepts plausible addresses only, lowercased", () => {
    expect(readAddress("  Ann@Example.COM ")).toBe("ann@example.com");
    for (const bad of [undefined, "", "ann", "ann@", "@x.com", "a b@x.com", "a@x", "a@x.com, b@x.com", "<a@x.com>"])
      expect(readAddress(bad), String(bad)).toBeUndefined();
  });
});

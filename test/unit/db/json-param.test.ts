import { describe, expect, it } from "vitest";
import { jsonParam } from "../../../src/db/json-param.js";

describe("jsonParam", () => {
  it("is JSON.stringify for well-formed text, surrogate pairs and escapes included", () => {
    const value = [{ a: "x\u00e9\ud83d\ude00", b: ["\\ud800 is text", null, 1.5], c: { '"q"': "\n" } }];
    expect(jsonParam(value)).toBe(JSON.stringify(value));
  });

  it("writes each lone surrogate as U+FFFD, in any string value", () => {
    const value = { k: [`a\udc00b`, `\ud83d\ude00\ud83d`, `\udfff\ud800\udc00`], o: { t: "\ud800" }, n: 2 };
    const json = jsonParam(value);
    expect(json).not.toMatch(/\\ud[89a-f]/i);
    expect(JSON.parse(json)).toEqual({
      k: ["a\ufffdb", "\ud83d\ude00\ufffd", "\ufffd\ud800\udc00"],
      o: { t: "\ufffd" },
      n: 2,
    });
  });

  it("drops each NUL from string values", () => {
    const value = ["a\u0000b\u0000", { t: "\u0000", n: null }, "\\u0000 is text"];
    expect(JSON.parse(jsonParam(value))).toEqual(["ab", { t: "", n: null }, "\\u0000 is text"]);
  });
});

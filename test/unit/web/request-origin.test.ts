import { describe, expect, it } from "vitest";
import { clientAddress } from "../../../src/web/client-address.js";
import { crossOriginProblem, isLoopbackAddress, isLoopbackHost } from "../../../src/web/request-origin.js";

describe("where an operator request comes from", () => {
  it("loopback socket addresses", () => {
    for (const ip of ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"]) {
      expect(isLoopbackAddress(ip), ip).toBe(true);
    }
    for (const ip of ["10.0.0.1", "192.0.2.2", "::ffff:10.0.0.1", "fd00::2", "", undefined]) {
      expect(isLoopbackAddress(ip), String(ip)).toBe(false);
    }
  });

  it("loopback Host headers: localhost, 127.0.0.1, [::1], with any port", () => {
    const served = ["localhost", "localhost:3000", "LocalHost:1", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:3000"];
    for (const h of served) expect(isLoopbackHost(h), h).toBe(true);
    const refused = ["evil.example", "evil.example:3000", "localhost.", "localhost.evil.example", "127.0.0.1.nip.io"];
    refused.push("app.localhost", "127.0.0.2", "::1", "");
    for (const h of [...refused, undefined]) expect(isLoopbackHost(h), String(h)).toBe(false);
  });

  it("same-origin: Origin names the Host (any scheme, default ports equal), Sec-Fetch-Site same-origin or none", () => {
    const ok = [
      { host: "localhost:3000" },
      { host: "localhost:3000", origin: "http://localhost:3000" },
      { host: "LOCALHOST:3000", origin: "http://localhost:3000" },
      { host: "localhost:80", origin: "http://localhost" },
      { host: "nr.example", origin: "https://nr.example" },
      { host: "localhost:3000", "sec-fetch-site": "same-origin" },
      { host: "localhost:3000", "sec-fetch-site": "none" },
    ];
    for (const h of ok) expect(crossOriginProblem(h), JSON.stringify(h)).toBeUndefined();
    const refused = [
      { host: "localhost:3000", origin: "http://evil.example" },
      { host: "localhost:3000", origin: "http://localhost:3001" },
      { host: "localhost:3000", origin: "null" },
      { host: "localhost:3000", origin: "file://" },
      { host: "localhost:3000", origin: "not a url" },
      { origin: "http://localhost:3000" },
      { host: "localhost:3000", origin: ["http://localhost:3000", "http://evil.example"] },
      { host: "localhost:3000", "sec-fetch-site": "cross-site" },
      { host: "localhost:3000", "sec-fetch-site": "same-site" },
      { host: "localhost:3000", origin: "http://localhost:3000", "sec-fetch-site": "cross-site" },
    ];
    const problems = ["Origin does not match Host", "Sec-Fetch-Site is not same-origin"];
    for (const h of refused) expect(problems, JSON.stringify(h)).toContain(crossOriginProblem(h));
  });
});

describe("the client address for per-client limits", () => {
  it("is the socket's peer unless a trusted proxy is in front", () => {
    expect(clientAddress("198.51.100.1", "127.0.0.1", 0)).toBe("198.51.100.1");
    expect(clientAddress("198.51.100.1", undefined, 1)).toBe("198.51.100.1");
    expect(clientAddress(undefined, undefined, 0)).toBe("unknown");
  });

  it("behind one proxy, is the entry it appended (the last), never one the client wrote", () => {
    expect(clientAddress("10.1.2.3", "203.0.113.5", 1)).toBe("203.0.113.5");
    expect(clientAddress("10.1.2.3", "1.1.1.1, 2.2.2.2 ,203.0.113.5", 1)).toBe("203.0.113.5");
    expect(clientAddress("10.1.2.3", ["1.1.1.1", "2001:db8::7"], 1)).toBe("2001:db8::7");
    expect(clientAddress("10.1.2.3", "1.1.1.1, 203.0.113.5", 2)).toBe("1.1.1.1");
    // Nothing usable from the proxy: the socket, not a made-up key.
    expect(clientAddress("10.1.2.3", "", 1)).toBe("10.1.2.3");
    expect(clientAddress("10.1.2.3", "1.1.1.1, not-an-address", 1)).toBe("10.1.2.3");
  });
});

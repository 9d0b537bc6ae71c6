/**
 * The request gate (runtime/server/gate.ts) on tables of cases: which Host names and
 * Origins `igloo dev` answers, and which get CORS headers. The browser attack test
 * (e2e.browser.attack.test.ts) shows the same rules holding against Chromium.
 */
import { describe, expect, test } from "bun:test";
import { hostName, isLoopbackAddress, RequestGate } from "../runtime/server/gate.ts";

const dev = new RequestGate({ allowedHosts: ["igloo.internal", ".dev.example"], corsOrigins: ["https://app.example"], loopbackOrigins: true });
const production = new RequestGate({ allowedHosts: "any", corsOrigins: ["https://app.example"], loopbackOrigins: false });

function request(headers: Record<string, string>, url = "http://127.0.0.1:4000/query"): Request {
  return new Request(url, { method: "POST", headers });
}

describe("Host", () => {
  test("names and addresses", () => {
    expect(hostName("LocalHost:4000")).toBe("localhost");
    expect(hostName("[::1]:4000")).toBe("::1");
    expect(hostName("127.0.0.1")).toBe("127.0.0.1");
    for (const address of ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"]) expect(isLoopbackAddress(address)).toBe(true);
    for (const address of ["0.0.0.0", "::", "192.168.1.5", "example.com"]) expect(isLoopbackAddress(address)).toBe(false);
  });

  test("dev answers loopback names, IP addresses and allowed names only", () => {
    const answered = ["localhost:4000", "127.0.0.1:4000", "[::1]:4000", "app.localhost:4000", "10.1.2.3:4000", "[fe80::1]:4000", "igloo.internal:4000", "x.dev.example", "dev.example"];
    const refused = [
      "attacker.rebind.example",
      "attacker.rebind.example:4000",
      "localhost.attacker.example",
      "127.0.0.1.nip.io",
      "igloo.internal.evil",
      "notdev.example",
      "localhost:4000@attacker.example",
      "localhost:x",
      "[::1]evil",
      "",
    ];
    for (const host of answered) expect(dev.hostAllowed(host)).toBe(true);
    for (const host of refused) expect(dev.hostAllowed(host)).toBe(false);
    expect(dev.check(request({ host: "attacker.rebind.example:4000" }))?.message).toMatch(/DNS rebinding.*--allowed-hosts/);
  });

  test("production answers any name (keys guard it)", () => {
    expect(production.hostAllowed("api.example.com")).toBe(true);
  });
});

describe("Origin", () => {
  test("dev lets loopback pages and configured origins call, and refuses every other page", () => {
    for (const origin of ["http://localhost:3000", "http://127.0.0.1:5173", "https://localhost", "http://[::1]:8080", "http://app.localhost:3000", "https://app.example"]) {
      expect(dev.check(request({ host: "127.0.0.1:4000", origin }))).toBeUndefined();
      expect(dev.corsHeaders(request({ host: "127.0.0.1:4000", origin }))?.["access-control-allow-origin"]).toBe(origin);
    }
    for (const origin of ["http://evil.test", "https://app.example.evil", "null", "file://", "http://localhost.evil.test", "http://192.168.1.5:3000", "chrome-extension://abc"]) {
      const refusal = dev.check(request({ host: "127.0.0.1:4000", origin }));
      expect(refusal?.status).toBe(403);
      expect(refusal?.message).toMatch(/--cors-origins/);
      expect(dev.corsHeaders(request({ host: "127.0.0.1:4000", origin }))).toBeUndefined();
    }
  });

  test("requests a page makes without Origin (embeds, no-cors GETs) are refused when cross-site; navigations are not", () => {
    expect(dev.check(request({ host: "127.0.0.1:4000", "sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors" }))?.status).toBe(403);
    expect(dev.check(request({ host: "127.0.0.1:4000", "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }))).toBeUndefined();
    // curl, the generated client in Bun or Node: no Origin, no Sec-Fetch-*.
    expect(dev.check(request({ host: "127.0.0.1:4000" }))).toBeUndefined();
  });

  test("production: configured origins only; `*` allows every page", () => {
    expect(production.check(request({ host: "api", origin: "http://localhost:3000" }))?.status).toBe(403);
    expect(production.check(request({ host: "api", origin: "https://app.example" }))).toBeUndefined();
    const open = new RequestGate({ allowedHosts: "any", corsOrigins: ["*"], loopbackOrigins: false });
    expect(open.check(request({ host: "api", origin: "https://anywhere.example" }))).toBeUndefined();
    expect(open.corsHeaders(request({ host: "api", origin: "https://anywhere.example" }))?.["access-control-allow-origin"]).toBe("*");
  });
});

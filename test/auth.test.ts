import { describe, expect, spyOn, test } from "bun:test";
import * as nodeCrypto from "node:crypto";
import { generateKey, KeyRing, parseKeyEntries, ROLES, type Role } from "../runtime/server/auth.ts";

const sha256 = (text: string) => nodeCrypto.createHash("sha256").update(text).digest("hex");
const HEX = "ab".repeat(32);

function problem(text: string): string {
  try {
    parseKeyEntries(text);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("generateKey", () => {
  test("the key is igloo_<role>_ and 43 base64url characters; the entry is role:sha256 of it", () => {
    for (const role of ROLES) {
      const { key, entry } = generateKey(role);
      expect(key).toMatch(new RegExp(`^igloo_${role}_[A-Za-z0-9_-]{43}$`));
      expect(entry).toBe(`${role}:sha256:${sha256(key)}`);
    }
  });

  test("keys are unique", () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateKey("query").key));
    expect(keys.size).toBe(1000);
  });

  test("a generated entry parses back and authorizes its key", () => {
    const { key, entry } = generateKey("ingest");
    const ring = new KeyRing(parseKeyEntries(entry));
    expect(ring.authorize(`Bearer ${key}`, "ingest")).toEqual({ ok: true, role: "ingest", key: expect.any(String) });
  });
});

describe("parseKeyEntries", () => {
  test("comma-separated, whitespace tolerant, hex case normalized", () => {
    expect(parseKeyEntries(` ingest:sha256:${HEX} ,\n admin : SHA256:${HEX.toUpperCase()}\t`)).toEqual([
      { role: "ingest", hash: `sha256:${HEX}` },
      { role: "admin", hash: `sha256:${HEX}` },
    ]);
  });

  test("an empty value is no keys", () => {
    expect(parseKeyEntries("")).toEqual([]);
    expect(parseKeyEntries("  ")).toEqual([]);
  });

  test("each bad entry is reported by position, saying what is wrong", () => {
    const message = problem(`query:sha256:${HEX},reader:sha256:${HEX},admin:md5:${HEX},ingest:sha256:abc,,query:sha256:${"z".repeat(64)},sha256:${HEX},nocolon`);
    expect(message.split("\n")).toEqual([
      'IGLOO_KEYS entry 2 has an unknown role "reader"; expected one of ingest, query, admin.',
      'IGLOO_KEYS entry 3 (role admin): the hash must start with "sha256:".',
      "IGLOO_KEYS entry 4 (role ingest): the hash has 3 hex digits, not 64.",
      "IGLOO_KEYS entry 5 is empty; remove the extra comma.",
      "IGLOO_KEYS entry 6 (role query): the hash holds characters other than hex digits.",
      'IGLOO_KEYS entry 7 has an unknown role "sha256" (the role is missing); expected one of ingest, query, admin.',
      "IGLOO_KEYS entry 8 has no role; expected <role>:sha256:<64 hex digits>. Each entry is <role>:sha256:<64 hex digits>, as printed by `igloo keys create --role <role>`.",
    ]);
  });

  test("the error names its source and carries a code", () => {
    try {
      parseKeyEntries("x", "igloo.config.json keys");
      throw new Error("expected a throw");
    } catch (error) {
      expect((error as Error).message).toStartWith("igloo.config.json keys entry 1 has no role");
      expect((error as { code?: string }).code).toBe("E_KEYS");
    }
  });

  test("hashes are never echoed, nor a key pasted in place of its hash", () => {
    const { key } = generateKey("query");
    const message = problem(`query:${key},admin:sha256:${HEX}ff,admin:sha256:${HEX.slice(2)}zz`);
    expect(message).toContain("IGLOO_KEYS entry 1 (role query): this is a key, not its hash");
    expect(message).not.toContain(key.slice("igloo_query_".length));
    expect(message).not.toContain(HEX.slice(0, 16));
  });
});

describe("KeyRing.authorize", () => {
  const keys = { ingest: generateKey("ingest"), query: generateKey("query"), admin: generateKey("admin") };
  const ring = new KeyRing(parseKeyEntries(Object.values(keys).map((k) => k.entry).join(",")));

  // [role of the key, role needed, expected status]
  const matrix: [Role, Role, 200 | 403][] = [
    ["ingest", "ingest", 200],
    ["ingest", "query", 403],
    ["ingest", "admin", 403],
    ["query", "ingest", 403],
    ["query", "query", 200],
    ["query", "admin", 403],
    ["admin", "ingest", 200],
    ["admin", "query", 200],
    ["admin", "admin", 200],
  ];
  for (const [has, needed, status] of matrix) {
    test(`a key of role ${has} asking for ${needed}: ${status}`, () => {
      const result = ring.authorize(`Bearer ${keys[has].key}`, needed);
      if (status === 200) {
        expect(result).toEqual({ ok: true, role: has, key: expect.any(String) });
      } else {
        expect(result).toMatchObject({
          ok: false,
          error: {
            kind: "forbidden",
            message: `this key has the ${has} role; this request needs the ${needed === "admin" ? "admin role" : `${needed} role (or admin)`}: create one with \`igloo keys create --role ${needed}\` and add its entry to IGLOO_KEYS`,
          },
        });
      }
    });
  }

  test("a missing or malformed header is 401 and says how to send a key", () => {
    for (const header of [null, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", keys.admin.key, `Bearer ${keys.admin.key} extra`]) {
      const result = ring.authorize(header, "query");
      expect(result).toMatchObject({ ok: false, error: { kind: "unauthenticated" } });
      if (result.ok) continue;
      expect(result.error.message).toContain("send `Authorization: Bearer <key>`");
      expect(result.error.message).toContain("`igloo keys create --role query`");
    }
  });

  test("the scheme is case-insensitive", () => {
    expect(ring.authorize(`bearer ${keys.query.key}`, "query")).toEqual({ ok: true, role: "query", key: expect.any(String) });
  });

  test("an unknown key is 401, and no key appears in any message", () => {
    const stranger = generateKey("admin").key;
    const result = ring.authorize(`Bearer ${stranger}`, "admin");
    expect(result).toMatchObject({ ok: false, error: { kind: "unauthenticated" } });
    const messages = [result, ring.authorize(`Bearer ${keys.query.key}`, "admin"), ring.authorize(`Basic ${stranger}`, "admin")].map((r) => (r.ok ? "" : r.error.message));
    for (const message of messages) {
      expect(message).not.toBe("");
      for (const key of [stranger, keys.query.key]) expect(message).not.toContain(key.slice(-43));
    }
  });

  test("a malformed entry is refused up front, not on every request", () => {
    expect(() => new KeyRing([{ role: "query", hash: "sha256:abc" }])).toThrow("key entry 1 (role query): the hash has 3 hex digits, not 64.");
  });

  test("an empty ring lets nobody in", () => {
    expect(new KeyRing([]).authorize(`Bearer ${keys.admin.key}`, "ingest")).toMatchObject({ ok: false, error: { kind: "unauthenticated" } });
  });

  test("the same key listed under two roles gets the role that grants the request", () => {
    const { key } = generateKey("query");
    const hash = `sha256:${sha256(key)}`;
    const twice = new KeyRing([{ role: "admin", hash }, { role: "query", hash }]);
    expect(twice.authorize(`Bearer ${key}`, "admin")).toEqual({ ok: true, role: "admin", key: expect.any(String) });
  });
});

test("hashes are compared in constant time, against every entry, even after a match", () => {
  const first = generateKey("admin");
  const ring = new KeyRing(parseKeyEntries([first.entry, generateKey("query").entry, generateKey("ingest").entry].join(",")));
  const compare = spyOn(nodeCrypto, "timingSafeEqual");
  try {
    expect(ring.authorize(`Bearer ${first.key}`, "admin")).toEqual({ ok: true, role: "admin", key: expect.any(String) });
    expect(compare).toHaveBeenCalledTimes(3);
    expect(ring.authorize(`Bearer ${generateKey("admin").key}`, "admin")).toMatchObject({ ok: false, error: { kind: "unauthenticated" } });
    expect(compare).toHaveBeenCalledTimes(6);
    // Digests, not keys: equal lengths, so the length of a guess cannot shortcut anything.
    for (const [a, b] of compare.mock.calls) expect([a.byteLength, b.byteLength]).toEqual([32, 32]);
  } finally {
    compare.mockRestore();
  }
});

/**
 * API keys for production mode (see CONTRACT.md, `igloo keys create` and `IGLOO_KEYS`).
 * The server is configured with hashes of keys, never the keys themselves, so a leaked
 * config file or environment dump does not let anyone in.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { IglooError } from "../../conventions/errors.ts";

export const ROLES = ["ingest", "query", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** One configured key: the role it grants and `sha256:<64 lowercase hex digits>`. */
export interface KeyEntry {
  readonly role: Role;
  readonly hash: string;
}

/** What a request needs: a role, or any valid key (`/openapi.json`). */
export type Need = Role | "any";

export type Authorization =
  /** `key`: the SHA-256 of the presented key, hex: who the client is, without the key itself. */
  | { readonly ok: true; readonly role: Role; readonly key: string }
  /** `error`: E_UNAUTHENTICATED (no key, or one nobody configured) or E_FORBIDDEN (a key of another role). */
  | { readonly ok: false; readonly error: IglooError };

const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/i;
const ENTRY_FORMAT = "<role>:sha256:<64 hex digits>";

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}

/**
 * Keys are 32 random bytes, so nobody can guess one or search the key space for a
 * hash: a plain, fast SHA-256 is enough, and salting or a slow password hash (bcrypt,
 * argon2) would only cost time on every request. The same argument is GitHub's for its
 * token hashes.
 */
function digest(key: string): Buffer {
  return createHash("sha256").update(key).digest();
}

/** The entry that grants `role` to `key`. */
export function keyEntry(role: Role, key: string): KeyEntry {
  return { role, hash: `sha256:${digest(key).toString("hex")}` };
}

/** A new key and the entry to configure for it. The key is shown once and kept nowhere. */
export function generateKey(role: Role): { key: string; entry: string } {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  // The role in the key only helps people tell their keys apart; the entry decides.
  const key = `igloo_${role}_${Buffer.from(bytes).toString("base64url")}`;
  return { key, entry: `${role}:${keyEntry(role, key).hash}` };
}

/**
 * What is wrong with the hash part of an entry. The text itself is never repeated: a
 * likely mistake is pasting the key instead of its entry, and error messages end up in
 * logs.
 */
function hashProblem(hash: string): string {
  if (hash.startsWith("igloo_")) return "this is a key, not its hash; configure the `entry:` line that `igloo keys create` printed, and treat the key as leaked if this configuration was shared";
  if (!hash.toLowerCase().startsWith("sha256:")) return 'the hash must start with "sha256:"';
  const hex = hash.slice("sha256:".length);
  if (!/^[0-9a-f]*$/i.test(hex)) return "the hash holds characters other than hex digits";
  return `the hash has ${hex.length} hex digits, not 64`;
}

/** One entry of the list, or what is wrong with it. */
function parseEntry(text: string): KeyEntry | string {
  const colon = text.indexOf(":");
  if (text === "") return "is empty; remove the extra comma";
  if (colon === -1) return `has no role; expected ${ENTRY_FORMAT}`;
  const role = text.slice(0, colon).trim();
  const hash = text.slice(colon + 1).trim();
  if (!isRole(role)) {
    const missing = role.toLowerCase() === "sha256" ? " (the role is missing)" : "";
    return `has an unknown role "${role}"${missing}; expected one of ${ROLES.join(", ")}`;
  }
  if (!HASH_PATTERN.test(hash)) return `(role ${role}): ${hashProblem(hash)}`;
  return { role, hash: hash.toLowerCase() };
}

/**
 * Reads the comma-separated `IGLOO_KEYS` value (or the same list from the config file,
 * named by `source`). Every bad entry is reported, by position, in one error.
 */
export function parseKeyEntries(text: string, source = "IGLOO_KEYS"): KeyEntry[] {
  if (text.trim() === "") return [];
  const entries: KeyEntry[] = [];
  const problems: string[] = [];
  text.split(",").forEach((raw, index) => {
    const parsed = parseEntry(raw.trim());
    if (typeof parsed === "string") problems.push(`${source} entry ${index + 1} ${parsed}.`);
    else entries.push(parsed);
  });
  if (problems.length > 0) {
    throw new IglooError("E_KEYS", problems.join("\n"), {
      hint: `Each entry is ${ENTRY_FORMAT}, as printed by \`igloo keys create --role <role>\`.`,
    });
  }
  return entries;
}

function grants(role: Role, needed: Need): boolean {
  return role === "admin" || needed === "any" || role === needed;
}

function createKeyHint(needed: Need): string {
  return `create one with \`igloo keys create --role ${needed === "any" ? "<role>" : needed}\` and add its entry to IGLOO_KEYS`;
}

export class KeyRing {
  readonly #entries: readonly { readonly role: Role; readonly digest: Buffer }[];

  constructor(entries: readonly KeyEntry[]) {
    this.#entries = entries.map((entry, index) => {
      // Entries usually come from parseKeyEntries; a malformed one built by hand would
      // otherwise decode to a short digest and make timingSafeEqual throw per request.
      if (!HASH_PATTERN.test(entry.hash)) throw new IglooError("E_KEYS", `key entry ${index + 1} (role ${entry.role}): ${hashProblem(entry.hash)}.`);
      return { role: entry.role, digest: Buffer.from(entry.hash.slice("sha256:".length), "hex") };
    });
  }

  /** Whether the request's `Authorization` header carries a key that grants `needed`. */
  authorize(authorizationHeader: string | null, needed: Need): Authorization {
    const bearer = /^Bearer +(\S+) *$/i.exec(authorizationHeader ?? "");
    if (!bearer?.[1]) {
      return unauthenticated(`missing or malformed Authorization header; send \`Authorization: Bearer <key>\` (${createKeyHint(needed)})`);
    }
    // Compare against every entry, whether or not one already matched, so that the time
    // taken says nothing about which entry, or how much of a hash, a guess got right.
    const presented = digest(bearer[1]);
    let matched: Role | undefined;
    let granting: Role | undefined;
    for (const entry of this.#entries) {
      if (!timingSafeEqual(presented, entry.digest)) continue;
      matched = entry.role;
      if (grants(entry.role, needed)) granting = entry.role;
    }
    if (granting !== undefined) return { ok: true, role: granting, key: presented.toString("hex") };
    if (matched === undefined) {
      return unauthenticated(`unknown API key; send \`Authorization: Bearer <key>\` with a configured key (${createKeyHint(needed)})`);
    }
    const message = `this key has the ${matched} role; this request needs the ${needed === "admin" ? "admin role" : `${needed} role (or admin)`}: ${createKeyHint(needed)}`;
    return { ok: false, error: new IglooError("E_FORBIDDEN", message, { kind: "forbidden" }) };
  }
}

function unauthenticated(message: string): Authorization {
  return { ok: false, error: new IglooError("E_UNAUTHENTICATED", message, { kind: "unauthenticated" }) };
}

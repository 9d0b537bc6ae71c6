/** `igloo query "<sql>"`: a read-only query against the running project, as a table. */
import { IglooError } from "../../conventions/errors.ts";

/** `key`: for a server that needs one (production, or dev beyond loopback): IGLOO_KEY. */
export async function runQuery(sql: string, url: string, key?: string): Promise<Record<string, unknown>[]> {
  let response: Response;
  const headers: Record<string, string> = { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) };
  try {
    response = await fetch(`${url}/query`, { method: "POST", headers, body: JSON.stringify({ sql }) });
  } catch (error) {
    throw new IglooError("E_NOT_RUNNING", `cannot reach Igloo at ${url}.`, { hint: "Start it with `igloo dev` in the project, or pass --url.", cause: error });
  }
  const body = (await response.json()) as { data?: Record<string, unknown>[]; error?: string };
  // A large answer is streamed: a failure after its first rows comes as `error` in a 200.
  if (!response.ok || body.error !== undefined) throw new IglooError("E_QUERY", body.error ?? `query failed with HTTP ${response.status}`);
  return body.data ?? [];
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function formatTable(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "(no rows)";
  const columns = Object.keys(rows[0]!);
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join(" | ");
  return [line(columns), widths.map((w) => "-".repeat(w)).join("-+-"), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? "" : "s"})`].join("\n");
}

/** `igloo query "<sql>"`: a read-only query against the running project, as a table. */
import { IglooError } from "../../conventions/errors.ts";

export async function runQuery(sql: string, url: string): Promise<Record<string, unknown>[]> {
  let response: Response;
  try {
    response = await fetch(`${url}/query`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql }) });
  } catch (error) {
    throw new IglooError("E_NOT_RUNNING", `cannot reach Igloo at ${url}.`, { hint: "Start it with `igloo dev` in the project, or pass --url.", cause: error });
  }
  const body = (await response.json()) as { data?: Record<string, unknown>[]; error?: string };
  if (!response.ok) throw new IglooError("E_QUERY", body.error ?? `query failed with HTTP ${response.status}`);
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

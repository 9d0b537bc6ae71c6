/**
 * Answering `GET /views/<name>?param=value`: parameters are checked against their
 * declared types first (a 400 names the parameter and the type), then the query runs on
 * the store's read-only session with the values bound by the engine, never spliced in.
 */
import { suggest } from "../../conventions/datamodels/messages.ts";
import type { ViewParam } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import { checkParam, type ParamValue } from "./params.ts";
import type { ViewKind } from "./state.ts";

export type ViewAnswer =
  | { readonly status: 200; readonly rows: Record<string, unknown>[] }
  | { readonly status: 400 | 404; readonly error: string };

export interface QueryableView {
  readonly name: string;
  readonly kind: ViewKind;
  readonly sql: string;
  readonly params: readonly ViewParam[];
}

export async function runView(store: Store, view: QueryableView, raw: Readonly<Record<string, string>>): Promise<ViewAnswer> {
  const declared = view.params.map((p) => p.name);
  const signature = view.params.length === 0 ? "it takes no parameters" : `its parameters: ${view.params.map((p) => `${p.name} (${p.type})`).join(", ")}`;
  for (const key of Object.keys(raw)) {
    if (declared.includes(key)) continue;
    const close = suggest(key, declared);
    return badRequest(`view \`${view.name}\` has no parameter \`${key}\`${close === undefined ? "" : ` (did you mean \`${close}\`?)`}; ${signature}`);
  }
  const bound: Record<string, ParamValue> = {};
  for (const param of view.params) {
    const value = Object.hasOwn(raw, param.name) ? raw[param.name] : undefined;
    const checked = checkParam(param, value);
    if (!checked.ok) {
      return badRequest(value === undefined
        ? `view \`${view.name}\` needs the parameter \`${param.name}\` (${param.type}); pass it as ?${param.name}=...`
        : `parameter \`${param.name}\` of view \`${view.name}\`: ${checked.detail}`);
    }
    bound[param.name] = checked.value;
  }
  // Plain and incremental views are engine objects; a parameterized one is its SQL.
  const sql = view.kind === "parameterized" ? view.sql : `SELECT * FROM ${quoteIdent(view.name)}`;
  try {
    const { rows } = await store.readOnlyQuery(sql, bound);
    return { status: 200, rows };
  } catch (error) {
    // Values passed every check, so what remains is the query meeting this data (say a
    // cast of a parameter that fails); the engine's message is the best explanation.
    return badRequest(`view \`${view.name}\` failed: ${(error as Error).message}`);
  }
}

function badRequest(error: string): ViewAnswer {
  return { status: 400, error };
}

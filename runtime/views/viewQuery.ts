/**
 * Answering `GET /views/<name>?param=value`: parameters are checked against their
 * declared types first (a 400 names the parameter and the type), and the view becomes the
 * statement to run (runtime/query runs it, limited like every client's read) with the
 * values bound by the engine, never spliced in.
 */
import { suggest } from "../../conventions/datamodels/messages.ts";
import type { ViewParam } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import { checkParam, type ParamValue } from "./params.ts";
import type { ViewKind } from "./state.ts";

/** A view's statement with its bound values, or why it cannot run. */
export type ViewRequest =
  | { readonly status: 200; readonly sql: string; readonly params: Readonly<Record<string, ParamValue>> }
  | { readonly status: 400 | 404 | 503; readonly error: string };

export interface QueryableView {
  readonly name: string;
  readonly kind: ViewKind;
  readonly sql: string;
  readonly params: readonly ViewParam[];
}

export function resolveView(view: QueryableView, raw: Readonly<Record<string, string>>): ViewRequest {
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
  return { status: 200, sql: view.kind === "parameterized" ? view.sql : `SELECT * FROM ${quoteIdent(view.name)}`, params: bound };
}

function badRequest(error: string): ViewRequest {
  return { status: 400, error };
}

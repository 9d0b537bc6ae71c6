/**
 * Answering `GET /views/<name>?param=value`: parameters are checked against their
 * declared types first (a refusal names the parameter and the type), and the view becomes
 * the statement to run (runtime/query runs it, limited like every client's read) with the
 * values bound by the engine, never spliced in.
 */
import { suggest } from "../../conventions/datamodels/messages.ts";
import { IglooError } from "../../conventions/errors.ts";
import { typeName } from "../../conventions/datamodels/typeFaces.ts";
import type { ViewParam } from "../../conventions/views/ir.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import { checkParam, type ParamValue } from "./params.ts";
import type { ViewKind } from "./state.ts";

/** A view's statement with its bound values. */
export interface ViewStatement {
  readonly sql: string;
  readonly params: Readonly<Record<string, ParamValue>>;
}

export interface QueryableView {
  readonly name: string;
  readonly kind: ViewKind;
  readonly sql: string;
  readonly params: readonly ViewParam[];
}

/** The statement, or an IglooError (E_VIEW_PARAM, bad input) naming the parameter at fault. */
export function resolveView(view: QueryableView, raw: Readonly<Record<string, string>>): ViewStatement {
  const declared = view.params.map((p) => p.name);
  const signature = view.params.length === 0 ? "it takes no parameters" : `its parameters: ${view.params.map((p) => `${p.name} (${typeName(p.type)})`).join(", ")}`;
  for (const key of Object.keys(raw)) {
    if (declared.includes(key)) continue;
    const close = suggest(key, declared);
    throw paramError(`view \`${view.name}\` has no parameter \`${key}\`${close === undefined ? "" : ` (did you mean \`${close}\`?)`}; ${signature}`);
  }
  const bound: Record<string, ParamValue> = {};
  for (const param of view.params) {
    const value = Object.hasOwn(raw, param.name) ? raw[param.name] : undefined;
    const checked = checkParam(param, value);
    if (!checked.ok) {
      throw paramError(value === undefined
        ? `view \`${view.name}\` needs the parameter \`${param.name}\` (${typeName(param.type)}); pass it as ?${param.name}=...`
        : `parameter \`${param.name}\` of view \`${view.name}\`: ${checked.detail}`);
    }
    bound[param.name] = checked.value;
  }
  // Plain and incremental views are engine objects; a parameterized one is its SQL.
  return { sql: view.kind === "parameterized" ? view.sql : `SELECT * FROM ${quoteIdent(view.name)}`, params: bound };
}

function paramError(message: string): IglooError {
  return new IglooError("E_VIEW_PARAM", message, { kind: "bad_input" });
}

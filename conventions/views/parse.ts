/**
 * Parses `views/*.sql` into the view IR. Each file holds one SELECT (`WITH ... SELECT`
 * allowed) and names the view: `views/top_pages.sql` is the view `top_pages`.
 * `{name:Type}` placeholders are parameters, bound by the engine at query time.
 *
 * Checked here, each as a ConventionError at `file:line:column`: the file name is an
 * identifier and does not start with `igloo_` (reserved for Igloo's own objects), the
 * file holds exactly one statement, it is a SELECT, it has no INTO OUTFILE or FORMAT
 * clause (results are always JSON and never go to a file), parameters are written
 * `{name:Type}` with a supported type (paramTypes.ts), and one name has one type.
 * Whether the SELECT is valid, and whether the tables it reads exist, is the engine's
 * call at apply time (runtime/views): it knows the tables.
 */
import type { ConventionError } from "../errors.ts";
import type { SourceRef } from "../datamodels/ir.ts";
import type { ViewIR, ViewParam } from "./ir.ts";
import { parseParamType, typeName } from "../datamodels/typeFaces.ts";
import { findReferences } from "./references.ts";
import { viewError } from "./viewError.ts";
import { isKeyword, isPunct, positionAt, tokenize, type Token } from "./tokens.ts";

const VIEW_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARAM = /^\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*([\s\S]+?)\s*\}$/;

export interface ParsedViews {
  readonly views: ViewIR[];
  readonly errors: ConventionError[];
  /**
   * Names of view files that exist but have errors. Pass them to `ViewManager.apply` so
   * their last good version keeps serving instead of being dropped as removed.
   */
  readonly failed: string[];
}

export function parseViews(files: readonly { path: string; text: string }[]): ParsedViews {
  const views: ViewIR[] = [];
  const errors: ConventionError[] = [];
  const failed: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    const before = errors.length;
    const name = viewName(file.path);
    const view = parseFile(file, name, seen, errors);
    if (view !== undefined) views.push(view);
    else if (errors.length > before && VIEW_NAME.test(name) && !seen.has(name)) failed.push(name);
    if (VIEW_NAME.test(name) && !seen.has(name)) seen.set(name, file.path);
  }
  return { views, errors, failed };
}

function viewName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.endsWith(".sql") ? base.slice(0, -4) : base;
}

function parseFile(
  file: { path: string; text: string },
  name: string,
  seen: ReadonlyMap<string, string>,
  errors: ConventionError[],
): ViewIR | undefined {
  const at = (offset: number): SourceRef => ({ file: file.path, ...positionAt(file.text, offset) });
  const fail = (offset: number, detail: string, hint?: string): undefined => {
    errors.push(viewError(at(offset), detail, hint));
    return undefined;
  };

  if (!VIEW_NAME.test(name)) {
    return fail(0, `view file name \`${name}\` must be letters, digits and _ only, not starting with a digit`, "The file name is the view's name; rename the file, e.g. views/top_pages.sql.");
  }
  if (/^igloo_/i.test(name)) {
    return fail(0, `view name \`${name}\` starts with \`igloo_\`, which is reserved for Igloo's own tables`, "Rename the file.");
  }
  const other = seen.get(name);
  if (other !== undefined) return fail(0, `view \`${name}\` is already declared by ${other}`, "View names must be unique; rename one of the files.");

  const lexed = tokenize(file.text);
  if (!lexed.ok) return fail(lexed.offset, lexed.message);
  const statements = splitStatements(lexed.tokens);
  const [tokens, second] = statements;
  if (tokens === undefined) return fail(0, `view file is empty`, "Write one SELECT query; the view is named after the file.");
  if (second !== undefined) {
    return fail(second[0]!.start, "a view file holds exactly one SELECT, but a second statement starts here", "Put each view in a file of its own.");
  }
  const first = tokens[0]!;
  if (!isKeyword(first, "SELECT") && !isKeyword(first, "WITH")) {
    return fail(first.start, `a view is a SELECT query, but this file starts with \`${first.text}\``, "Write a SELECT (or WITH ... SELECT) query.");
  }
  const clause = forbiddenClause(tokens);
  if (clause !== undefined) return fail(clause.start, `\`${clause.text}\` is not allowed in a view`, "Views always answer JSON over HTTP; remove the clause.");

  const params: ViewParam[] = [];
  for (const token of tokens) {
    if (token.kind !== "param") continue;
    const m = PARAM.exec(token.text);
    if (!m) return fail(token.start, `parameter \`${token.text}\` must be written {name:Type}`, "For example {country:String}.");
    const [, paramName, typeText] = m as unknown as [string, string, string];
    const type = parseParamType(typeText);
    if ("problem" in type) return fail(token.start, `parameter \`${paramName}\`: ${type.problem}`);
    const spelled = typeName(type);
    const previous = params.find((p) => p.name === paramName);
    if (previous === undefined) params.push({ name: paramName, type });
    else if (typeName(previous.type) !== spelled) {
      return fail(token.start, `parameter \`${paramName}\` is declared as ${typeName(previous.type)} and here as ${spelled}`, "Give it one type everywhere.");
    }
  }

  const last = tokens[tokens.length - 1]!;
  return {
    name,
    file: file.path,
    sql: file.text.slice(first.start, last.end),
    params,
    references: findReferences(tokens),
    source: at(first.start),
  };
}

/** Statements with at least one token, separated by `;`. */
function splitStatements(tokens: readonly Token[]): Token[][] {
  const statements: Token[][] = [];
  let current: Token[] = [];
  for (const token of tokens) {
    if (isPunct(token, ";")) {
      if (current.length > 0) statements.push(current);
      current = [];
    } else {
      current.push(token);
    }
  }
  if (current.length > 0) statements.push(current);
  return statements;
}

/** `INTO OUTFILE` anywhere, or a top-level `FORMAT` clause (not the `format(...)` function). */
function forbiddenClause(tokens: readonly Token[]): Token | undefined {
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (isPunct(t, "(")) depth++;
    else if (isPunct(t, ")")) depth--;
    else if (isKeyword(t, "INTO") && isKeyword(tokens[i + 1], "OUTFILE")) return t;
    else if (depth === 0 && isKeyword(t, "FORMAT") && !isPunct(tokens[i + 1], "(")) return t;
  }
  return undefined;
}

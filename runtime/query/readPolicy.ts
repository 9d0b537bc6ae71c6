/**
 * What a statement sent to `POST /query` may do, decided on the engine's own parse tree
 * (`EXPLAIN AST`), never on the SQL text: the engine has already resolved quoting,
 * comments, case and nesting, so there is nothing to smuggle past a pattern.
 *
 * The engine's read-only mode (see the stores) refuses writes, DDL, SET, temporary
 * tables and most table functions on its own. This policy refuses what it lets through:
 * - statements other than SELECT (with WITH, UNION...), DESCRIBE, SHOW and EXPLAIN;
 * - INTO OUTFILE (the embedded engine writes the file itself), FORMAT (the answer is
 *   Igloo's JSON) and SETTINGS at the end of a statement;
 * - tables of other databases (`system.*` included): the project's data only;
 * - table functions but a few that make rows from their arguments (`numbers`, `values`...);
 * - functions that read files or server state (`file`, `getServerSetting`, dictionaries...).
 *
 * A server too old to show its tree (ClickHouse before 20.6) gets a coarser check on the
 * statement's tokens instead (tokenPolicyProblem), for what its user's rights do not stop.
 *
 * The tree is printed one node a line, children indented by one space more than their
 * parent: `Function file (children 1)`, `TableIdentifier db.t (alias x)`, `Literal 'a'`.
 * String literals are printed escaped, so a node never spans lines.
 */

import { sqlTokens } from "../store/statements.ts";

export interface AstNode {
  /** The node's class: `SelectWithUnionQuery`, `Function`, `TableIdentifier`... */
  readonly kind: string;
  /** The rest of its line: a function's or table's name, a literal. */
  readonly text: string;
  readonly children: AstNode[];
}

/** The tree of `EXPLAIN AST` output lines. */
export function parseAst(lines: readonly string[]): AstNode {
  const root: AstNode = { kind: "", text: "", children: [] };
  const stack: { depth: number; node: AstNode }[] = [{ depth: -1, node: root }];
  for (const line of lines) {
    if (line.trim() === "") continue;
    const depth = line.length - line.trimStart().length;
    const body = line.trim().replace(/ \(children \d+\)$/, "");
    const space = body.indexOf(" ");
    const node: AstNode = { kind: space === -1 ? body : body.slice(0, space), text: space === -1 ? "" : body.slice(space + 1).trim(), children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    stack[stack.length - 1]!.node.children.push(node);
    stack.push({ depth, node });
  }
  if (root.children.length !== 1) throw new Error(`the engine's parse tree has ${root.children.length} roots`);
  return root.children[0]!;
}

/** Table functions that only make rows out of their arguments. */
const TABLE_FUNCTIONS = ["numbers", "numbers_mt", "zeros", "zeros_mt", "generate_series", "generateSeries", "primes", "values", "view", "null", "generateRandom"];
const TABLE_FUNCTION_NAMES = new Set(TABLE_FUNCTIONS.map((name) => name.toLowerCase()));

/** Functions that read files, other tables by name, or the server's configuration. */
const FORBIDDEN_FUNCTION = /^(file|getserversetting|getmergetreesetting|getmacro|catboostevaluate|evalmlmethod|hascolumnintable|joinget.*|dict.*|filesystem.*)$/;

/** `a IN t` reads table `t` when the right side is a name. */
const IN_FUNCTIONS = new Set(["in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin", "globalnotnullin"]);

/** The statements that may run, and how many of their first children are the statement itself. */
const STATEMENTS = new Map<string, number>([
  ["SelectWithUnionQuery", 1],
  ["SelectIntersectExceptQuery", Number.POSITIVE_INFINITY],
  ["DescribeQuery", 1],
  ["ShowTables", 0],
  ["ShowCreateTableQuery", 1],
  ["ShowCreateViewQuery", 1],
  ["Explain", 1],
]);

/** SQL words for the statements that are refused, for the message. */
const KEYWORDS: Record<string, string> = {
  InsertQuery: "INSERT",
  CreateQuery: "CREATE",
  AlterQuery: "ALTER",
  AlterCommand: "ALTER",
  DropQuery: "DROP",
  RenameQuery: "RENAME",
  Set: "SET",
  SetQuery: "SET",
  SystemQuery: "SYSTEM",
  SYSTEM: "SYSTEM",
  TruncateQuery: "TRUNCATE",
  KillQueryQuery: "KILL",
  OptimizeQuery: "OPTIMIZE",
  UseQuery: "USE",
  DeleteQuery: "DELETE",
  UndropQuery: "UNDROP",
  GrantQuery: "GRANT",
  CreateUserQuery: "CREATE USER",
  CheckQuery: "CHECK",
  ExistsTableQuery: "EXISTS",
  ShowProcesslistQuery: "SHOW PROCESSLIST",
  ShowColumns: "SHOW COLUMNS (use DESCRIBE)",
  BackupQuery: "BACKUP",
};

export interface PolicyContext {
  /** The project's database: the only one a statement may read. */
  readonly database: string;
  /** Whether a name (which may hold dots) is a table or view of the project's database. */
  readonly isProjectTable: (name: string) => boolean;
}

const ALLOWED = "only SELECT (with WITH, UNION...), DESCRIBE, SHOW TABLES, SHOW CREATE and EXPLAIN may run here";

/** The first reason the statement may not run, or undefined when it may. */
export function policyProblem(root: AstNode, context: PolicyContext): string | undefined {
  return statementProblem(root, context) ?? treeProblem(root, context);
}

function statementProblem(node: AstNode, context: PolicyContext): string | undefined {
  const own = STATEMENTS.get(node.kind);
  if (own === undefined) {
    const keyword = KEYWORDS[node.kind];
    return `${keyword === undefined ? `this statement (${node.kind})` : `${keyword} statements`} cannot run here: ${ALLOWED}`;
  }
  let children = node.children;
  if (node.kind === "Explain") {
    // EXPLAIN's own options (`EXPLAIN actions = 1 ...`) come first, then what it explains.
    const first = children.findIndex((c) => c.kind !== "Set");
    if (first === -1) return "EXPLAIN needs a statement to explain";
    const inner = statementProblem(children[first]!, context);
    if (inner !== undefined) return inner;
    children = children.slice(first);
  }
  if (node.kind === "ShowTables" && children.length > 0) {
    return "SHOW TABLES lists the project's tables only: FROM, FORMAT and INTO OUTFILE cannot be used with it here";
  }
  if (node.kind.startsWith("ShowCreate")) {
    const [name, ...rest] = children;
    if (rest.length > 0 || name === undefined || name.kind !== "Identifier" || tableProblem(name.text, context) !== undefined) {
      return "SHOW CREATE shows tables and views of the project's database, without FORMAT or INTO OUTFILE";
    }
    return undefined;
  }
  // What follows the statement's own parts: INTO OUTFILE 'x', FORMAT X, SETTINGS ...
  for (const extra of children.slice(own)) {
    if (extra.kind === "Literal") return "INTO OUTFILE cannot be used here: results come back in the answer, never in a file";
    if (extra.kind === "Identifier") return `FORMAT cannot be used here: the answer is always JSON (got FORMAT ${extra.text})`;
    if (extra.kind === "Set") return "SETTINGS cannot be used here: the limits on queries are Igloo's configuration";
    return `this clause (${extra.kind}) cannot be used at the end of a statement here`;
  }
  return undefined;
}

/** The name a `TableIdentifier` or `Identifier` line gives, without its alias. */
function nameOf(node: AstNode): string {
  const alias = node.text.indexOf(" (alias ");
  return alias === -1 ? node.text : node.text.slice(0, alias);
}

function tableProblem(name: string, context: PolicyContext): string | undefined {
  if (!name.includes(".") || context.isProjectTable(name)) return undefined;
  const database = name.slice(0, name.indexOf("."));
  if (database === context.database) return undefined;
  return `\`${name}\` is outside the project's database: queries here read the project's tables and views only (SHOW TABLES lists them)`;
}

function treeProblem(node: AstNode, context: PolicyContext): string | undefined {
  if (node.kind === "TableExpression") {
    for (const source of node.children) {
      if (source.kind === "TableIdentifier") {
        const problem = tableProblem(nameOf(source), context);
        if (problem !== undefined) return problem;
      } else if (source.kind === "Function" && !TABLE_FUNCTION_NAMES.has(nameOf(source).toLowerCase())) {
        return `the table function \`${nameOf(source)}\` cannot be used here: it reaches outside the project's tables (files, network, other databases); allowed: ${TABLE_FUNCTIONS.join(", ")}`;
      }
    }
  } else if (node.kind === "Function") {
    const name = nameOf(node).toLowerCase();
    if (FORBIDDEN_FUNCTION.test(name)) return `the function \`${nameOf(node)}\` cannot be used here: it reads files, tables by name or the server's configuration`;
    if (IN_FUNCTIONS.has(name)) {
      const right = node.children[0]?.children[1];
      if (right?.kind === "Identifier") {
        const problem = tableProblem(nameOf(right), context);
        if (problem !== undefined) return problem;
      }
    }
  } else if (node.kind === "TableIdentifier") {
    const problem = tableProblem(nameOf(node), context);
    if (problem !== undefined) return problem;
  }
  for (const child of node.children) {
    const problem = treeProblem(child, context);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

const FIRST_WORDS = new Set(["SELECT", "WITH", "DESCRIBE", "DESC", "EXPLAIN", "SHOW"]);
const SYSTEM_DATABASES = new Set(["system", "information_schema"]);

/**
 * For servers without `EXPLAIN AST`, whose query user's rights are the real policy: what
 * those rights let through on such servers (a read-only user may still KILL its own
 * user's queries, and read `system` whatever databases it is given) is refused on the
 * statement's tokens. Coarser than the tree (a column written `system.x` is refused too),
 * never looser than the user's rights, which still decide everything else.
 */
export function tokenPolicyProblem(sql: string): string | undefined {
  const tokens = sqlTokens(sql);
  const words = tokens.filter((t) => t.kind === "word").map((t) => t.text.toUpperCase());
  const first = words[0] ?? "";
  if (!FIRST_WORDS.has(first)) return `${first === "" ? "this statement" : `${first} statements`} cannot run here: ${ALLOWED}`;
  if (first === "SHOW" && words[1] !== "TABLES" && words[1] !== "CREATE") return `SHOW ${words[1] ?? ""} cannot run here: ${ALLOWED}`;
  for (let i = 0; i + 1 < tokens.length; i++) {
    const token = tokens[i]!;
    if ((token.kind === "word" || token.kind === "quoted") && SYSTEM_DATABASES.has(token.text.toLowerCase()) && tokens[i + 1]!.text === ".") {
      return `\`${token.text}\` is outside the project's database: queries here read the project's tables and views only (SHOW TABLES lists them)`;
    }
    if (token.kind === "word" && token.text.toUpperCase() === "INTO" && tokens[i + 1]!.text.toUpperCase() === "OUTFILE") {
      return "INTO OUTFILE cannot be used here: results come back in the answer, never in a file";
    }
  }
  return undefined;
}

/**
 * Checks what a view reads before the engine sees it, so a typo in a table name is an
 * error at the name in the view's own file, not an engine message about a query Igloo
 * built. Names qualified with a database (`system.numbers`) are left to the engine.
 */
import type { SourceRef } from "../../conventions/datamodels/ir.ts";
import type { ViewIR } from "../../conventions/views/ir.ts";
import { isIdentifier, isKeyword, positionAt, tokenize } from "../../conventions/views/tokens.ts";

/** What a name refers to: `broken` is a view whose file has errors and no good version. */
export type Resolution = "table" | "view" | "parameterized" | "broken" | "unknown";

export interface ReferenceProblem {
  /** Offset of the name in the view's SQL. */
  readonly offset: number;
  readonly detail: string;
  readonly hint?: string;
}

export function referenceProblem(view: ViewIR, resolve: (name: string) => Resolution): ReferenceProblem | undefined {
  for (const name of view.references) {
    if (name.includes(".")) continue;
    const what = resolve(name);
    if (what === "table" || what === "view") continue;
    const offset = offsetOf(view.sql, name);
    switch (what) {
      case "parameterized":
        return {
          offset,
          detail: `view \`${view.name}\` reads view \`${name}\`, which has parameters`,
          hint: "A view with parameters runs per request with its values and cannot be read by other views; read its tables directly.",
        };
      case "broken":
        return { offset, detail: `view \`${view.name}\` reads view \`${name}\`, which has errors`, hint: `Fix views/${name}.sql first.` };
      case "unknown":
        return {
          offset,
          detail: `view \`${view.name}\` reads \`${name}\`, which is neither a model table, a view nor a table in the engine`,
          hint: "Check the spelling: a model's table has the model's name (or its @@map), a view its file's name.",
        };
    }
  }
  return undefined;
}

/** Where a view's SQL offset is in its file (the SQL starts at `view.source`). */
export function sourceAt(view: ViewIR, offset: number): SourceRef {
  const { line, column } = positionAt(view.sql, offset);
  return { file: view.file, line: view.source.line + line - 1, column: line === 1 ? view.source.column + column - 1 : column };
}

/** The name where it is read (after FROM or JOIN), else its first mention. */
function offsetOf(sql: string, name: string): number {
  const lexed = tokenize(sql);
  if (!lexed.ok) return 0;
  const tokens = lexed.tokens;
  const mentions = tokens.filter((t) => isIdentifier(t) && t.value === name);
  const read = mentions.find((t) => {
    const before = tokens[tokens.indexOf(t) - 1];
    return isKeyword(before, "FROM") || isKeyword(before, "JOIN");
  });
  return (read ?? mentions[0])?.start ?? 0;
}

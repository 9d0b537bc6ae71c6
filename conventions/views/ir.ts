/**
 * A view as declared by `views/<name>.sql`: plain data, like the model IR. What the
 * engine makes of it (result columns, plain or incremental) is decided at runtime by
 * runtime/views, which has the engine to ask.
 */
import type { SourceRef } from "../datamodels/ir.ts";
import type { ColumnType } from "../datamodels/types.ts";

export interface ViewParam {
  readonly name: string;
  /** Parsed once, when the view is; `typeName` spells it (`Decimal(10, 2)`). See paramProblem for the supported set. */
  readonly type: ColumnType;
}

export interface ViewIR {
  /** The file name without `.sql`; the name of the engine view and of `GET /views/<name>`. */
  readonly name: string;
  /** Path relative to the project root, e.g. `views/top_pages.sql`. */
  readonly file: string;
  /** The SELECT as written, without surrounding comments, whitespace or the final `;`. */
  readonly sql: string;
  /** `{name:Type}` placeholders in order of first appearance, each once. */
  readonly params: readonly ViewParam[];
  /**
   * Tables and views read (after FROM and JOIN), excluding CTE names, subquery aliases
   * and table functions. Best effort: found by a tokenizer, not a full parser.
   */
  readonly references: readonly string[];
  /** Where the SELECT starts. */
  readonly source: SourceRef;
}

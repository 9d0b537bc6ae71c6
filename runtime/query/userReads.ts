/**
 * Every read made on behalf of a client (`POST /query`, `GET /views/...`, live
 * subscriptions) passes here, whatever the engine:
 * - at most `concurrency` run at once; the others wait in line, at most `queueWaitMs`
 *   (then a 503 to retry), so a slow query delays others but never blocks them forever;
 * - a statement from a client is checked against readPolicy.ts on the engine's parse tree
 *   first (views are the project's own SQL and skip that check);
 * - each read has a deadline, and is cancelled in the engine when it passes or when the
 *   client goes away (the caller's signal);
 * - its result is counted as it streams, and cut at the row and byte limits, on top of the
 *   engine's own limits, so a server whose limits are laxer still holds to Igloo's.
 * Failures are IglooErrors with a code (the server maps codes to statuses) and a message
 * that names the limit and the setting that raises it.
 */
import { IglooError } from "../../conventions/errors.ts";
import { formatBytes, type QueryLimits } from "../limits.ts";
import { AnswerError } from "../store/compactJson.ts";
import { StoreError, type QueryParams, type RowStream, type Store } from "../store/store.ts";
import { statementCount } from "../store/statements.ts";
import { parseAst, policyProblem, tokenPolicyProblem } from "./readPolicy.ts";

export type QueryErrorCode = "E_QUERY_REFUSED" | "E_QUERY_LIMIT" | "E_QUERY_BUSY" | "E_QUERY_FAILED" | "E_STORE_UNAVAILABLE";

export class QueryError extends IglooError {
  declare readonly code: QueryErrorCode;
  constructor(code: QueryErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, kind: code === "E_QUERY_BUSY" || code === "E_STORE_UNAVAILABLE" ? "unavailable" : "bad_input" });
    this.name = "QueryError";
  }
}

/** Reads that may wait in line beyond the running ones; past that a read is refused at once. */
const MAX_WAITING = 100;

/** How long past its limit a read the engine did not stop is given before Igloo cancels it. */
const DEADLINE_GRACE_MS = 1_000;

/** A counting semaphore whose waiters give up after a while. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];

  constructor(count: number) {
    this.#free = count;
  }

  acquire(waitMs: number, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(true);
    }
    if (this.#waiting.length >= MAX_WAITING) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (granted: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const at = this.#waiting.indexOf(grant);
        if (at !== -1) this.#waiting.splice(at, 1);
        resolve(granted);
      };
      const grant = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), waitMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(grant);
    });
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

export interface ReadRequest {
  readonly sql: string;
  readonly params?: QueryParams | undefined;
  /** The client's request: aborted when it goes away. */
  readonly signal?: AbortSignal | undefined;
}

export class UserReads {
  readonly #store: Store;
  readonly #onRead: ((ms: number) => void) | undefined;
  readonly #limits: QueryLimits;
  readonly #slots: Slots;

  /** `onRead` is told how long each read held its turn (Igloo's own events count them). */
  constructor(store: Store, limits: QueryLimits, onRead?: (ms: number) => void) {
    this.#store = store;
    this.#limits = limits;
    this.#onRead = onRead;
    this.#slots = new Slots(limits.concurrency);
  }

  get limits(): QueryLimits {
    return this.#limits;
  }

  /** A statement a client sent: checked against the read policy, then run. */
  statement(request: ReadRequest): Promise<RowStream> {
    return this.#run(request, true);
  }

  /** A view's SQL (the project's own), run with the same limits. */
  view(request: ReadRequest): Promise<RowStream> {
    return this.#run(request, false);
  }

  /**
   * A view's whole result within the result limits, each row the text of a JSON object,
   * and the milliseconds it ran (from its turn to its last row: waiting for a turn not
   * counted).
   */
  async viewRows(request: ReadRequest): Promise<{ readonly rows: readonly string[]; readonly ms: number }> {
    let started = 0;
    const stream = await this.#run(request, false, () => (started = performance.now()));
    const rows: string[] = [];
    for await (const batch of stream.batches) for (const row of batch) rows.push(row);
    return { rows, ms: performance.now() - started };
  }

  async #run(request: ReadRequest, untrusted: boolean, onTurn?: () => void): Promise<RowStream> {
    const limits = this.#limits;
    if (!(await this.#slots.acquire(limits.queueWaitMs, request.signal))) {
      if (request.signal?.aborted) throw new QueryError("E_QUERY_FAILED", "the client went away before the query ran");
      throw new QueryError(
        "E_QUERY_BUSY",
        `${limits.concurrency} queries are running and others are waiting; this one waited ${limits.queueWaitMs} ms (IGLOO_QUERY_QUEUE_MS) without a turn. Retry shortly, or raise IGLOO_QUERY_CONCURRENCY.`,
      );
    }
    onTurn?.();
    const turn = performance.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.#slots.release();
      this.#onRead?.(performance.now() - turn);
    };
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), limits.timeoutMs + DEADLINE_GRACE_MS);
    const signal = request.signal ? AbortSignal.any([request.signal, deadline.signal]) : deadline.signal;
    try {
      if (untrusted) await this.#check(request);
      const stream = await this.#store.read(request.sql, request.params, { signal });
      return this.#counted(stream, release, deadline.signal);
    } catch (error) {
      release();
      throw this.#explain(error, deadline.signal.aborted);
    }
  }

  async #check(request: ReadRequest): Promise<void> {
    // First, and without the engine: chDB runs `a; b` as two statements, EXPLAIN AST
    // included, so a second statement must never reach it.
    const statements = statementCount(request.sql);
    if (statements !== 1) throw new QueryError("E_QUERY_REFUSED", `a query must be exactly one statement, got ${statements}`);
    if (!this.#store.capabilities.supportsExplainAst) {
      const problem = tokenPolicyProblem(request.sql);
      if (problem !== undefined) throw new QueryError("E_QUERY_REFUSED", problem);
      return;
    }
    const lines = await this.#store.explainAst(request.sql, request.params);
    // Names with dots are rare; only they need the project's table list.
    const dotted = lines.some((l) => /(TableIdentifier|Identifier) \S*\./.test(l));
    const project = new Set(dotted ? await this.#store.listTables() : []);
    const problem = policyProblem(parseAst(lines), { database: this.#store.database, isProjectTable: (name) => project.has(name) });
    if (problem !== undefined) throw new QueryError("E_QUERY_REFUSED", problem);
  }

  /** The stream, counted against the result limits, and the slot freed once it ends. */
  #counted(stream: RowStream, release: () => void, deadline: AbortSignal): RowStream {
    const { maxResultRows, maxResultBytes } = this.#limits;
    const explain = (error: unknown) => this.#explain(error, deadline.aborted);
    async function* batches(): AsyncGenerator<readonly string[]> {
      let rows = 0;
      let bytes = 0;
      try {
        for await (const batch of stream.batches) {
          rows += batch.length;
          for (const row of batch) bytes += row.length;
          // Thrown, the read is closed (and cancelled in the engine) by the finally below.
          if (rows > maxResultRows || bytes > maxResultBytes) throw new QueryError("E_QUERY_LIMIT", resultLimitMessage(maxResultRows, maxResultBytes));
          yield batch;
        }
      } catch (error) {
        throw explain(error);
      } finally {
        stream.close();
        release();
      }
    }
    const iterable = batches();
    return {
      columns: stream.columns,
      batches: iterable,
      close: () => {
        stream.close();
        void iterable.return(undefined);
        release();
      },
    };
  }

  /** An engine's failure as a QueryError that names the limit, or the engine's own words. */
  #explain(error: unknown, pastDeadline: boolean): unknown {
    if (error instanceof QueryError) return error;
    const limits = this.#limits;
    if (error instanceof AnswerError) return new QueryError("E_QUERY_FAILED", error.message, { cause: error });
    if (!(error instanceof StoreError)) return error;
    if (error.kind === "unavailable") return new QueryError("E_STORE_UNAVAILABLE", error.publicMessage, { cause: error });
    switch (error.engineType ?? engineTypeOf(error.engineCode)) {
      case "TIMEOUT_EXCEEDED":
        return new QueryError("E_QUERY_LIMIT", timeLimitMessage(limits.timeoutMs), { cause: error });
      case "QUERY_WAS_CANCELLED":
        return pastDeadline
          ? new QueryError("E_QUERY_LIMIT", timeLimitMessage(limits.timeoutMs), { cause: error })
          : new QueryError("E_QUERY_FAILED", "the query was cancelled (its client went away, or the server is stopping)", { cause: error });
      case "MEMORY_LIMIT_EXCEEDED":
        return new QueryError(
          "E_QUERY_LIMIT",
          `the query needed more than the ${formatBytes(limits.maxMemoryBytes)} of memory a query may use (IGLOO_QUERY_MAX_MEMORY_BYTES); read fewer columns or rows, or aggregate in steps`,
          { cause: error },
        );
      case "TOO_MANY_ROWS_OR_BYTES":
        return new QueryError("E_QUERY_LIMIT", resultLimitMessage(limits.maxResultRows, limits.maxResultBytes), { cause: error });
      case "READONLY":
      case "ACCESS_DENIED":
        return new QueryError("E_QUERY_REFUSED", `this API only reads the project's data: ${engineWords(error.publicMessage)}`, { cause: error });
      default:
        return new QueryError("E_QUERY_FAILED", engineWords(error.publicMessage), { cause: error });
    }
  }
}

/** Old servers print a code without the type name. */
function engineTypeOf(code: string | undefined): string | undefined {
  switch (code) {
    case "159":
      return "TIMEOUT_EXCEEDED";
    case "394":
      return "QUERY_WAS_CANCELLED";
    case "241":
      return "MEMORY_LIMIT_EXCEEDED";
    case "396":
      return "TOO_MANY_ROWS_OR_BYTES";
    case "164":
      return "READONLY";
    case "497":
    case "291":
      return "ACCESS_DENIED";
    default:
      return undefined;
  }
}

/** The engine's sentence, without the store's "query failed: Code: N. DB::Exception:" preamble. */
function engineWords(message: string): string {
  let words = message.replace(/^(query|statement) failed: /, "");
  // chDB nests the engine's message in its own: strip every `Code: N. DB::Exception:` layer.
  while (/^(Code: \d+[.,] )?(e\.displayText\(\) = )?DB::Exception: /.test(words)) words = words.replace(/^(Code: \d+[.,] )?(e\.displayText\(\) = )?DB::Exception: /, "");
  return words.replace(/ \(version [\d.]+( \(official build\))?\)\.?/g, "").replace(/(\(([A-Z_]+)\))(\.? \(\2\))+/, "$1").trim();
}

function timeLimitMessage(timeoutMs: number): string {
  return `the query ran past the ${timeoutMs / 1000} s a query may take (IGLOO_QUERY_TIMEOUT_MS) and was stopped; narrow it (WHERE, LIMIT, fewer columns) or read a view`;
}

function resultLimitMessage(rows: number, bytes: number): string {
  return `the result is larger than a query may return (${rows.toLocaleString("en-US")} rows, ${formatBytes(bytes)}: IGLOO_QUERY_MAX_ROWS, IGLOO_QUERY_MAX_BYTES); add a LIMIT, or aggregate`;
}

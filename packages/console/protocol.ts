/**
 * The dev console's JSON API (`/_igloo/api/*`, served by runtime/server/console.ts): plain
 * types only, imported by the server and by the browser code of this folder, so the two
 * cannot disagree. Types of columns and parameters are spelled as the engine spells them
 * (`Nullable(DateTime64(3, 'UTC'))`); the browser parses them with the same type module.
 */

/** `GET /_igloo/api/project`: what the project is made of, as it runs now. */
export interface ProjectInfo {
  readonly models: readonly ModelInfo[];
  readonly functions: readonly FunctionInfo[];
  readonly views: readonly ViewInfo[];
  /** The dead-letter table every stage writes into (through a topic of the same name), and its writer's group. */
  readonly deadLetterTable: string;
  readonly deadLetterGroup: string;
  /** The limits a query meets (POST /query), with the setting that changes each. */
  readonly limits: readonly LimitInfo[];
  /** Problems of the last load of each folder, `file:line:column: ...`. */
  readonly problems: readonly { readonly folder: string; readonly message: string }[];
  /** Changes waiting for the Apply button (or `y` at the terminal). */
  readonly held: readonly HeldChange[];
  readonly reloads: readonly ReloadEntry[];
}

export interface ModelInfo {
  readonly name: string;
  readonly table: string;
  /** The topic its records go through. */
  readonly topic: string;
  /** The table writer's consumer group. */
  readonly group: string;
  readonly streamOnly: boolean;
  /** `@@internal`: only functions write it; no ingest endpoint. */
  readonly internal: boolean;
  /** The model waits for a held change before it takes records. */
  readonly waiting: boolean;
  readonly doc?: string;
  /** `datamodels/PageView.prisma`. */
  readonly file: string;
  readonly fields: readonly FieldInfo[];
  readonly orderBy: readonly string[];
  readonly partitionBy?: string;
  readonly engine: string;
  readonly key?: string;
  /** A field the table fills with the ingest time (`@default(now())`): what "newest" means. */
  readonly ingestTime?: string;
}

export interface FieldInfo {
  readonly name: string;
  readonly column: string;
  /** As build messages name it: `UInt32`, `LowCardinality(String)[]`, `DateTime64(3)?`. */
  readonly type: string;
  /** The table column's type as the engine spells it. */
  readonly columnType: string;
  /** JSON Schema of what ingest accepts for the field (an array for lists, null allowed when optional). */
  readonly schema: Readonly<Record<string, unknown>>;
  /** `@id`, `@default(now())`, `@map("...")`, `@db.LowCardinality`... as words. */
  readonly attributes: readonly string[];
  /** Ingest fills it in when it is left out (optional, or with a default). */
  readonly optional: boolean;
  readonly doc?: string;
}

export interface FunctionInfo {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  /** `functions/purchaseItems.ts`. */
  readonly file: string;
  readonly group: string;
  readonly workers: number;
}

export interface ViewInfo {
  readonly name: string;
  readonly kind: "plain" | "incremental" | "parameterized";
  /** Why an aggregation stays plain, when it was considered for the incremental rewrite. */
  readonly fallbackReason?: string;
  readonly sql: string;
  readonly params: readonly { readonly name: string; readonly type: string }[];
  readonly columns: readonly { readonly name: string; readonly type: string }[];
  /** Tables it reads, through other views too ("*" when unknown). */
  readonly sources: readonly string[];
}

export interface LimitInfo {
  /** The environment variable that sets it. */
  readonly setting: string;
  readonly value: number;
  readonly doc: string;
}

export interface HeldChange {
  readonly summary: string;
  readonly table: string;
  /** Rows in the table when the change was held: what it would rewrite or drop from. */
  readonly rows: number;
}

export interface ReloadEntry {
  /** ISO-8601. */
  readonly at: string;
  /** `start`, a save of some folders, or the held changes applied. */
  readonly trigger: "start" | "save" | "apply";
  readonly folders: readonly string[];
  /** What changed: `add column ...`, `reloaded function f`, `view v created (incremental)`. */
  readonly changes: readonly string[];
  readonly problems: readonly string[];
  readonly durationMs: number;
}

/** `GET /_igloo/api/status`: counters since start and positions now; rates are deltas between two. */
export interface StatusInfo {
  /** Epoch milliseconds when sampled. */
  readonly at: number;
  readonly ingest: Readonly<Record<string, { readonly accepted: number; readonly rejected: number }>>;
  readonly writerRows: Readonly<Record<string, number>>;
  readonly functionRecords: Readonly<Record<string, number>>;
  readonly functionErrors: Readonly<Record<string, number>>;
  /** Records not yet processed, by consumer group. */
  readonly lag: Readonly<Record<string, number>>;
  /** Dead letters stored, by source. */
  readonly deadLetters: Readonly<Record<string, number>>;
  readonly liveSubscribers: number;
}

/** `GET /_igloo/api/pulse?v=<n>`: answers once something moved past `v` (or after a while, unchanged). */
export interface Pulse {
  readonly v: number;
}

/** `POST /_igloo/api/changes/apply`: what the held changes became. */
export interface ApplyAnswer {
  readonly held: readonly HeldChange[];
  readonly entry?: ReloadEntry;
}

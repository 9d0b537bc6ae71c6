/**
 * The table writer: drains one topic into one table, in batches (size or time, whichever
 * comes first), committing the group's offset only after the insert succeeded.
 *
 * Exactly once, from at-least-once parts: before inserting, the writer saves its intent
 * (the batch's offset range) with the stream; the insert carries a deduplication token
 * derived from that range. If the process dies between insert and commit, the stream
 * replays exactly the same range, the retried insert carries the same token, and the
 * engine drops it as a duplicate (the idea of ClickHouse Kafka Connect's exactly-once
 * mode, with the stream's commit metadata standing in for its KeeperMap state).
 */
import { deadLetter, DEAD_LETTER_TOPIC } from "../deadLetters.ts";
import { quoteIdent } from "../store/clickhouseSql.ts";
import type { Store } from "../store/store.ts";
import type { Validate } from "../ingest/ingest.ts";
import { joinValues } from "../stream/joinValues.ts";
import type { RecordBatch, Stream, StreamRecord, Subscription } from "../stream/stream.ts";

export interface TableWriterOptions {
  readonly topic: string;
  readonly table: string;
  /** Shown as `source` on dead letters for rows the table refuses. */
  readonly source: string;
  readonly group?: string;
  /**
   * The table's identity columns. On an engine without insert deduplication tokens, a
   * replayed batch is inserted only for the ids the table does not hold yet, so the
   * writer stays exactly-once there too; without ids it is at-least-once on such engines.
   */
  readonly idColumns?: readonly string[];
  /**
   * Set when records may come from outside Igloo (a Kafka topic any client can write):
   * each record is checked against its model, and an invalid one goes to the dead
   * letters instead of failing or corrupting the insert.
   */
  readonly validate?: Validate;
  readonly maxBatchRecords?: number;
  readonly maxWaitMs?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each committed batch; feeds metrics and read-your-writes. */
  readonly onBatch?: (info: { topic: string; partition: number; nextOffset: number; rows: number; ms: number }) => void;
}

/**
 * One consumer group per topic: Kafka clients (kafkajs among them) assign a group's
 * partitions as if every member read every topic, so members that read different topics
 * under one group id starve each other.
 */
export function writerGroup(topic: string): string {
  return `igloo-writer-${topic}`;
}

const decoder = new TextDecoder();

/** An error from the engine about the data, as opposed to the engine being unreachable. */
function isDataError(error: unknown): boolean {
  return typeof (error as { engineCode?: unknown })?.engineCode === "string";
}

export class TableWriter {
  readonly #stream: Stream;
  readonly #store: Store;
  readonly #options: TableWriterOptions;
  #subscription: Subscription | undefined;

  constructor(stream: Stream, store: Store, options: TableWriterOptions) {
    this.#stream = stream;
    this.#store = store;
    this.#options = options;
  }

  get group(): string {
    return this.#options.group ?? writerGroup(this.#options.topic);
  }

  async start(): Promise<void> {
    const o = this.#options;
    this.#subscription = await this.#stream.subscribe({
      topic: o.topic,
      group: this.group,
      maxBatchRecords: o.maxBatchRecords ?? 100_000,
      maxWaitMs: o.maxWaitMs ?? 250,
      handle: (batch) => this.#write(batch),
      onError: (error) => o.onError?.(error),
    });
  }

  /** The insert body: the values as they are, or, for outside records, checked and normalised. */
  async #body(batch: RecordBatch): Promise<Uint8Array> {
    const validate = this.#options.validate;
    if (!validate) return joinValues(batch.records);
    const lines: string[] = [];
    const letters: string[] = [];
    for (const record of batch.records) {
      const text = decoder.decode(record.value);
      let checked: ReturnType<Validate>;
      try {
        checked = validate(JSON.parse(text));
      } catch (error) {
        checked = { ok: false, error: `not valid JSON (${error instanceof Error ? error.message : String(error)})` };
      }
      if (checked.ok) lines.push(JSON.stringify(checked.record));
      else letters.push(JSON.stringify(deadLetter({ source: this.#options.source, stage: "writer", record: text, error: checked.error })));
    }
    if (letters.length > 0 && this.#options.topic !== DEAD_LETTER_TOPIC) await this.#stream.append(DEAD_LETTER_TOPIC, letters.map((value) => ({ value })));
    return new TextEncoder().encode(lines.join("\n"));
  }

  async #write(batch: RecordBatch): Promise<void> {
    const started = performance.now();
    const token = batch.replayedIntent ?? `${this.group}:${batch.topic}:${batch.partition}:${batch.firstOffset}-${batch.nextOffset}`;
    if (batch.replayedIntent === undefined) await batch.saveIntent(token);
    try {
      const body = await this.#body(batch);
      if (batch.replayedIntent !== undefined && !this.#store.capabilities.supportsInsertDeduplicationToken && this.#options.idColumns?.length) {
        await this.#insertMissing(body, token);
      } else {
        await this.#store.insertJsonEachRow(this.#options.table, body, { dedupToken: token });
      }
    } catch (error) {
      if (!isDataError(error)) throw error;
      await this.#writeOneByOne(batch, token);
    }
    this.#options.onBatch?.({
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: batch.nextOffset,
      rows: batch.records.length,
      ms: performance.now() - started,
    });
  }

  /**
   * A replay on an engine that cannot drop a repeated insert: stage the batch in a table
   * of its own, then copy over only the rows whose ids the table lacks. No record value
   * is ever spliced into SQL, and a crash here just replays this again.
   */
  async #insertMissing(body: Uint8Array, token: string): Promise<void> {
    const table = quoteIdent(this.#options.table);
    const stagingName = `igloo_replay_${Bun.hash(token).toString(16)}`;
    const staging = quoteIdent(stagingName);
    const ids = this.#options.idColumns!.map(quoteIdent).join(", ");
    await this.#store.exec(`DROP TABLE IF EXISTS ${staging}`);
    await this.#store.exec(`CREATE TABLE ${staging} AS ${table} ENGINE = Memory`);
    try {
      await this.#store.insertJsonEachRow(stagingName, body);
      await this.#store.exec(`INSERT INTO ${table} SELECT * FROM ${staging} WHERE (${ids}) NOT IN (SELECT ${ids} FROM ${table})`);
    } finally {
      await this.#store.exec(`DROP TABLE IF EXISTS ${staging}`);
    }
  }

  /**
   * The engine refused the batch for its data: insert record by record (each with its own
   * token, so a replay stays idempotent) and dead-letter the ones it refuses, rather than
   * blocking the topic forever or dropping rows silently.
   */
  async #writeOneByOne(batch: RecordBatch, token: string): Promise<void> {
    const refused: { record: StreamRecord; error: unknown }[] = [];
    for (const record of batch.records) {
      try {
        await this.#store.insertJsonEachRow(this.#options.table, joinValues([record]), { dedupToken: `${token}:${record.offset}` });
      } catch (error) {
        if (!isDataError(error)) throw error;
        refused.push({ record, error });
      }
    }
    if (refused.length === 0 || this.#options.topic === DEAD_LETTER_TOPIC) return;
    await this.#stream.append(
      DEAD_LETTER_TOPIC,
      refused.map(({ record, error }) => ({
        value: JSON.stringify(
          deadLetter({
            source: this.#options.source,
            stage: "writer",
            record: decoder.decode(record.value),
            error: error instanceof Error ? error.message : String(error),
          }),
        ),
      })),
    );
  }

  async stop(): Promise<void> {
    await this.#subscription?.close();
    this.#subscription = undefined;
  }
}

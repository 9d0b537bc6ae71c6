/**
 * Appends held while a model's table is altered: new appends to its topic wait at the
 * gate, and the alter waits until the appends in progress have finished, so every record
 * acknowledged before the change was checked against the old types and is in the log
 * before the writers drain it.
 */
import { IglooError } from "../../conventions/errors.ts";

/** An append waited longer than allowed for a schema change of its model's table. */
export class SchemaChangeWaitError extends IglooError {
  constructor(model: string, waitMs: number) {
    super("E_SCHEMA_CHANGE", `model \`${model}\` is being changed (its table is altered after the records before the change are written); nothing was stored. Retry in a moment.`, {
      kind: "unavailable",
      hint: `Waited ${waitMs / 1000} s.`,
    });
    this.name = "SchemaChangeWaitError";
  }
}

export class AppendGates {
  /** Models whose table is being altered: what their appends wait for. */
  readonly #closed = new Map<string, Promise<void>>();
  /** Appends in progress per model, with what to call when the count reaches 0. */
  readonly #inUse = new Map<string, { count: number; idle: (() => void)[] }>();

  /** Resolves once the model's gate is open; throws SchemaChangeWaitError after `waitMs`. */
  async pass(model: string, waitMs: number): Promise<void> {
    const gate = this.#closed.get(model);
    if (!gate) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), waitMs)));
    const outcome = await Promise.race([gate.then(() => "open" as const), late]);
    clearTimeout(timer);
    if (outcome === "late") throw new SchemaChangeWaitError(model, waitMs);
  }

  /** Runs `append`, counted as an append of `model` in progress until it settles. */
  async track<T>(model: string, append: () => Promise<T>): Promise<T> {
    const usage = this.#inUse.get(model) ?? { count: 0, idle: [] };
    this.#inUse.set(model, usage);
    usage.count++;
    try {
      return await append();
    } finally {
      if (--usage.count === 0) for (const idle of usage.idle.splice(0)) idle();
    }
  }

  /**
   * Closes the gates of `models` at once and resolves once their appends in progress have
   * finished, with the function that opens the gates again.
   */
  async hold(models: readonly string[]): Promise<() => void> {
    const open: (() => void)[] = [];
    for (const model of models) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#closed.set(model, promise);
      open.push(() => {
        if (this.#closed.get(model) === promise) this.#closed.delete(model);
        resolve();
      });
    }
    await Promise.all(models.map((model) => this.#quiet(model)));
    return () => open.forEach((o) => o());
  }

  /** Resolves once no append of `model` is in progress. */
  #quiet(model: string): Promise<void> {
    const usage = this.#inUse.get(model);
    if (!usage || usage.count === 0) return Promise.resolve();
    return new Promise((resolve) => usage.idle.push(resolve));
  }
}

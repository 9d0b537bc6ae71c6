/**
 * `fakeContext()` from igloo/testing: the second argument of a function's `run`, for
 * testing a function without a pipeline: a time the test sets, and a log it can read.
 */
export interface FakeContext {
  now(): Date;
  readonly log: { info(message: string): void; warn(message: string): void; error(message: string): void };
  /** What the function logged, in order. */
  readonly logs: { readonly level: "info" | "warn" | "error"; readonly message: string }[];
}

export function fakeContext(options: { readonly now?: Date | string | number } = {}): FakeContext {
  const at = options.now === undefined ? undefined : new Date(options.now).getTime();
  const logs: FakeContext["logs"] = [];
  const say = (level: "info" | "warn" | "error") => (message: string) => void logs.push({ level, message: String(message) });
  return { now: () => new Date(at ?? Date.now()), log: { info: say("info"), warn: say("warn"), error: say("error") }, logs };
}

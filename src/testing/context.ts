/**
 * `fakeContext()` from igloo/testing: the second argument of a function's `run`, for
 * testing a function without a pipeline: a time the test sets, and a log it can read.
 */
import type { FakeContext } from "../../packages/testing/api.ts";

export function fakeContext(options: { readonly now?: Date | string | number } = {}): FakeContext {
  const at = options.now === undefined ? undefined : new Date(options.now).getTime();
  const logs: FakeContext["logs"] = [];
  const say = (level: "info" | "warn" | "error") => (message: string) => void logs.push({ level, message: String(message) });
  return { now: () => new Date(at ?? Date.now()), log: { info: say("info"), warn: say("warn"), error: say("error") }, logs };
}

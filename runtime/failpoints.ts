/**
 * Failpoints: named places where a test may kill the process (`kill -9`, no cleanup) to
 * prove that what was acknowledged survives a crash at exactly that moment. Set with
 * `IGLOO_FAILPOINTS=name[@n],...`: the process dies the n-th time (default the first) it
 * passes `name`. Unset, a failpoint costs one Set lookup.
 *
 * The table writer's points, in the order one batch passes them: writer.beforeIntent,
 * writer.afterIntent, writer.afterDeadLetters (only when rows were refused),
 * writer.afterInsert, then stream.afterCommit (after any subscriber's commit).
 */

const armed: Map<string, number> = parse(process.env.IGLOO_FAILPOINTS ?? "");

function parse(setting: string): Map<string, number> {
  const points = new Map<string, number>();
  for (const item of setting.split(",")) {
    const [name, count] = item.trim().split("@");
    if (name) points.set(name, count === undefined ? 1 : Math.max(1, Number(count) || 1));
  }
  return points;
}

/** Dies with SIGKILL when `name` is armed and reached its count. */
export function failpoint(name: string): void {
  if (armed.size === 0) return;
  const left = armed.get(name);
  if (left === undefined) return;
  if (left > 1) {
    armed.set(name, left - 1);
    return;
  }
  process.stderr.write(`igloo: failpoint ${name} reached: killing the process (IGLOO_FAILPOINTS)\n`);
  process.kill(process.pid, "SIGKILL");
}

/**
 * Where Igloo reports what it does. Dev mode prints for people; production prints one
 * JSON object per line for log collectors.
 */
export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

type Level = "info" | "warn" | "error";

let guarded = false;

/**
 * When the reader of our output goes away (EPIPE: `igloo dev | head`, a closed terminal),
 * the write fails, sometimes synchronously and sometimes as an 'error' event. Losing a
 * log line must never take the pipeline down with it.
 */
function ignoreBrokenPipes(): void {
  if (guarded) return;
  guarded = true;
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
}

export function consoleLogger(options: { json?: boolean; quiet?: boolean } = {}): Logger {
  ignoreBrokenPipes();
  const write = (level: Level, message: string, fields?: Record<string, unknown>): void => {
    if (options.quiet && level === "info") return;
    const out = level === "info" ? process.stdout : process.stderr;
    const line = options.json
      ? JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + "\n"
      : `${level === "info" ? "" : level + ": "}${message}\n`;
    try {
      out.write(line);
    } catch {
      // See ignoreBrokenPipes.
    }
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

/**
 * Says a repeated problem once, then how often it recurred, at most once per `everyMs`:
 * a function throwing on every record, or a writer retrying against a full disk, must be
 * seen in the terminal without burying it. Problems are told apart by `kind`.
 */
export class RepeatReporter {
  readonly #report: (message: string) => void;
  readonly #everyMs: number;
  readonly #now: () => number;
  readonly #seen = new Map<string, { count: number; since: number; reported: number; last: string }>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(report: (message: string) => void, options: { everyMs?: number; now?: () => number } = {}) {
    this.#report = report;
    this.#everyMs = options.everyMs ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** `message` is printed the first time `kind` happens; later ones are counted. */
  add(kind: string, message: string, count = 1): void {
    const entry = this.#seen.get(kind);
    if (!entry) {
      this.#seen.set(kind, { count: 0, since: this.#now(), reported: this.#now(), last: message });
      this.#report(message);
      if (count > 1) this.add(kind, message, count - 1);
      return;
    }
    entry.count += count;
    entry.last = message;
    this.#timer ??= setInterval(() => this.flush(), this.#everyMs);
    this.#timer.unref?.();
  }

  /** Prints the counts gathered since the last report; forgets kinds that stopped. */
  flush(): void {
    const now = this.#now();
    for (const [kind, entry] of this.#seen) {
      if (entry.count === 0) {
        if (now - entry.reported >= this.#everyMs) this.#seen.delete(kind);
        continue;
      }
      const seconds = Math.max(1, Math.round((now - entry.reported) / 1000));
      this.#report(`${entry.count.toLocaleString("en-US")} more in the last ${seconds} s: ${entry.last}`);
      entry.count = 0;
      entry.reported = now;
    }
    if (this.#seen.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  close(): void {
    this.flush();
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

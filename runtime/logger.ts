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

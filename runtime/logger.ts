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

export function consoleLogger(options: { json?: boolean; quiet?: boolean } = {}): Logger {
  const write = (level: Level, message: string, fields?: Record<string, unknown>): void => {
    if (options.quiet && level === "info") return;
    const out = level === "info" ? process.stdout : process.stderr;
    if (options.json) {
      out.write(JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }) + "\n");
    } else {
      out.write(`${level === "info" ? "" : level + ": "}${message}\n`);
    }
  };
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  };
}

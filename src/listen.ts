/**
 * Puts an app on a port, for `igloo dev` and `igloo start`. A port in use is an error:
 * Elysia asks Bun for SO_REUSEPORT by default, which lets a second process bind the same
 * port and silently take half of the requests (two projects answering one URL), so it is
 * turned off. Bun's development mode (error pages with stack traces) is off too.
 */
import { IglooError } from "../conventions/errors.ts";
import type { IglooApp } from "../runtime/server/app.ts";

export function listen(app: IglooApp, options: { readonly port: number; readonly host: string; readonly maxBodyBytes: number }): IglooApp {
  try {
    return app.listen({
      port: options.port,
      hostname: options.host,
      reusePort: false,
      development: false,
      // Bun refuses a declared length over its limit with an empty 413 before any handler
      // runs. Ours answers with a message instead: declared lengths are checked before the
      // body is read, chunked bodies as they arrive (app.ts readBody). No route reads a
      // body it does not limit, and Bun does not read a body nobody asks for.
      maxRequestBodySize: Number.MAX_SAFE_INTEGER,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE" || /address already in use|EADDRINUSE/i.test(String(error))) {
      throw new IglooError("E_PORT_IN_USE", `port ${options.port} on ${options.host} is already in use (another igloo dev, or another program).`, {
        hint: "Stop it, or pick another port with --port (IGLOO_PORT).",
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * Stops taking requests and lets the ones in flight finish for a while; then closes the
 * connections still open, which cancels their queries (a client's endless query must not
 * hold up a stop).
 */
export async function stopServer(server: IglooApp | undefined, graceMs = 5_000): Promise<void> {
  if (!server) return;
  const finished = await Promise.race([server.stop().then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!finished) await server.stop(true);
}

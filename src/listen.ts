/**
 * Puts an app on a port, for `igloo dev` and `igloo start`. A port in use is an error:
 * Elysia asks Bun for SO_REUSEPORT by default, which lets a second process bind the same
 * port and silently take half of the requests (two projects answering one URL), so it is
 * turned off. Bun's development mode (error pages with stack traces) is off too.
 */
import { IglooError } from "../conventions/errors.ts";
import type { IglooApp } from "../runtime/server/app.ts";

/**
 * Bun refuses bodies over its own limit with an empty 413 before our handler runs; ours
 * answers with a message, so Bun's limit sits a little above it as a backstop.
 */
const BODY_SLACK = 1024 * 1024;

export function listen(app: IglooApp, options: { readonly port: number; readonly host: string; readonly maxBodyBytes: number }): IglooApp {
  try {
    return app.listen({
      port: options.port,
      hostname: options.host,
      reusePort: false,
      development: false,
      maxRequestBodySize: options.maxBodyBytes + BODY_SLACK,
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

/**
 * Headless Chromium for browser tests: Debian's chromium (installed by
 * scripts/browser/chromium.sh) driven by playwright-core. Fails loudly if it cannot start.
 */
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { REPO } from "../../scripts/lib/igloo.ts";

/** `args` come after the base ones, e.g. `--host-resolver-rules` to give a test foreign names. */
export async function launchChromium(args: readonly string[] = []): Promise<Browser> {
  const install = Bun.spawnSync(["bash", join(REPO, "scripts", "browser", "chromium.sh")], { stdout: "pipe", stderr: "pipe" });
  if (install.exitCode !== 0) throw new Error(`cannot install Debian's chromium: ${install.stderr.toString()}`);
  const executablePath = install.stdout.toString().trim().split("\n").pop()!;
  return await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", ...args],
  });
}

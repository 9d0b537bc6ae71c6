/**
 * What `igloo build` writes for operators (src/commands/supervision.ts): the systemd
 * template unit is verified by systemd-analyze (Debian's, installed by
 * scripts/systemd/analyze.sh) with the build installed where the unit expects it; the
 * container recipe starts the build's binary and stops it with SIGTERM. Building the
 * container image needs a Docker daemon, which our machines do not run.
 */
import { afterAll, expect, test } from "bun:test";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { IGLOO, initProject, removeDir, REPO, tempDir } from "./helpers/igloo.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

test("igloo build writes a systemd unit systemd-analyze accepts, and a container recipe that runs igloo start", () => {
  const analyze = Bun.spawnSync(["bash", join(REPO, "scripts", "systemd", "analyze.sh")], { stdout: "pipe", stderr: "pipe" });
  if (analyze.exitCode !== 0) throw new Error(`cannot install systemd-analyze: ${analyze.stderr.toString()}`);
  const dir = initProject("supervision");
  dirs.push(dirname(dir));
  const out = join(dirname(dir), "build");
  const built = Bun.spawnSync([IGLOO, "build", "--out", out], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  expect({ code: built.exitCode, err: built.stderr.toString() }).toEqual({ code: 0, err: "" });

  const unit = readFileSync(join(out, "deploy", "igloo@.service"), "utf8");
  expect(unit).toContain("ExecStart=/opt/igloo/igloo start --role %i");
  // Installed elsewhere for the check (the unit names its binary by absolute path, which must exist).
  const install = tempDir("supervision-install");
  dirs.push(install);
  cpSync(out, join(install, "igloo"), { recursive: true });
  const units = tempDir("supervision-units");
  dirs.push(units);
  for (const role of ["ingest", "worker"]) writeFileSync(join(units, `igloo@${role}.service`), unit.replaceAll("/opt/igloo", join(install, "igloo")));
  for (const role of ["ingest", "worker"]) {
    const verified = Bun.spawnSync([analyze.stdout.toString().trim(), "verify", join(units, `igloo@${role}.service`)], { stdout: "pipe", stderr: "pipe" });
    // It exits 0 on unknown keys too, and says so: nothing said is the pass.
    expect({ role, code: verified.exitCode, said: verified.stderr.toString() + verified.stdout.toString() }).toEqual({ role, code: 0, said: "" });
  }
  // A planted typo is caught, so the check above can fail.
  writeFileSync(join(units, "igloo@typo.service"), unit.replaceAll("/opt/igloo", join(install, "igloo")).replace("KillSignal=", "KilSignal="));
  const typo = Bun.spawnSync([analyze.stdout.toString().trim(), "verify", join(units, "igloo@typo.service")], { stdout: "pipe", stderr: "pipe" });
  expect(typo.stderr.toString()).toContain("Unknown key 'KilSignal'");

  const recipe = readFileSync(join(out, "deploy", "Containerfile"), "utf8");
  expect(recipe).toMatch(/^ENTRYPOINT \["\/opt\/igloo\/igloo", "start"\]$/m);
  expect(recipe).toMatch(/^STOPSIGNAL SIGTERM$/m);
  expect(recipe).toMatch(/^COPY --chown=igloo:igloo \. \/opt\/igloo$/m);
});

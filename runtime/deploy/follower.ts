/**
 * A production process's side of the deploy channel (channel.ts): once a second it reads
 * the log's new entries, pauses or resumes its table writers for holds, switches to the
 * version its role is told to run, and reports all of that in a heartbeat.
 *
 * Holds come before a switch read in the same poll: a version that adds a table under a
 * hold starts that table's writer paused.
 */
import type { Logger } from "../observability/logger.ts";
import { advance, DeployChannel, holdsAt, versionFor, type ChannelState, type ProcessRole, type Release } from "./channel.ts";

export interface FollowerHooks {
  /** Runs `release` from now on: models, functions, views, dashboards. */
  switchTo(release: Release): Promise<void>;
  /** Pauses the writer of `table` after its insert in hand; resolves to its resume. Workers only. */
  pause?(table: string): Promise<() => Promise<void>>;
  /** Records in the log that the tables do not hold yet (workers). */
  backlog?(): Promise<number>;
}

/** How often the log is read. */
export const POLL_MS = 1_000;
/** How often a process that has nothing new to say beats its heart (LIVE_MS in rollout.ts allows for three missed). */
const BEAT_MS = 3_000;
/** A failed switch is tried again after this long (a function whose module throws at import, say, fixed by the next deploy). */
const RETRY_MS = 10_000;

export class DeployFollower {
  readonly id = DeployChannel.processId();
  readonly #channel: DeployChannel;
  readonly #role: ProcessRole;
  readonly #hooks: FollowerHooks;
  readonly #logger: Logger;
  readonly #startedAt = new Date().toISOString();
  #state: ChannelState;
  #version: number;
  #error = "";
  #failedAt = 0;
  #backlog = -1;
  #beats = 0;
  #beatAt = 0;
  /** Holds in force here, with the resumes of the writers they paused. */
  readonly #held = new Map<string, (() => Promise<void>)[]>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #tick: Promise<void> = Promise.resolve();
  #stopped = false;

  /** `state` is what the process started from; `version` the version it runs (0: its build directory's). */
  constructor(channel: DeployChannel, role: ProcessRole, state: ChannelState, version: number, hooks: FollowerHooks, logger: Logger) {
    this.#channel = channel;
    this.#role = role;
    this.#state = state;
    this.#version = version;
    this.#hooks = hooks;
    this.#logger = logger;
  }

  get version(): number {
    return this.#version;
  }

  /**
   * Pauses the writers of the holds the log has in force: called before the process
   * starts its writers, so none of them inserts into a table being backfilled.
   */
  holdAsLogged(): Promise<void> {
    return this.#syncHolds();
  }

  /** Reports the process, then polls. */
  async start(): Promise<void> {
    await this.#syncHolds();
    await this.#beat();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#poll().finally(() => this.#schedule());
    }, POLL_MS);
  }

  async #poll(): Promise<void> {
    try {
      const entries = await this.#channel.read(this.#state.seq);
      if (entries.length > 0) this.#state = advance(this.#state, entries);
      const before = `${this.#version} ${this.#error} ${[...this.#held.keys()].join(",")}`;
      await this.#syncHolds();
      await this.#switch();
      // A change is reported at once (a deploy waits for it); otherwise every BEAT_MS.
      const changed = `${this.#version} ${this.#error} ${[...this.#held.keys()].join(",")}` !== before;
      if (!changed && Date.now() - this.#beatAt < BEAT_MS) return;
      if (this.#hooks.backlog && this.#beats++ % 2 === 0) this.#backlog = await this.#hooks.backlog().catch(() => -1);
      await this.#beat();
    } catch (error) {
      // The server is away: the process runs on with what it has and tries again.
      this.#logger.warn(`deploy channel: ${error instanceof Error ? error.message : String(error)}; retrying`);
    }
  }

  async #syncHolds(): Promise<void> {
    const pause = this.#hooks.pause;
    if (pause === undefined) return;
    const holds = holdsAt(this.#state, Date.now());
    for (const [hold, { tables }] of holds) {
      if (this.#held.has(hold)) continue;
      const resumes: (() => Promise<void>)[] = [];
      for (const table of tables) resumes.push(await pause(table));
      this.#held.set(hold, resumes);
      this.#logger.info(`deploy: writers of ${tables.join(", ")} paused for hold ${hold}`);
    }
    for (const [hold, resumes] of this.#held) {
      if (holds.has(hold)) continue;
      this.#held.delete(hold);
      for (const resume of resumes) await resume();
      this.#logger.info(this.#state.holds.has(hold) ? `deploy: hold ${hold} ran out (its deploy stopped renewing it)` : `deploy: hold ${hold} released`);
    }
  }

  async #switch(): Promise<void> {
    const target = this.#state.target;
    if (target === undefined) return;
    const wanted = versionFor(target, this.#role);
    if (wanted === this.#version) return;
    if (this.#error !== "" && Date.now() - this.#failedAt < RETRY_MS) return;
    const release = this.#state.releases.get(wanted);
    if (release === undefined) return;
    const began = performance.now();
    try {
      await this.#hooks.switchTo(release);
      this.#logger.info(`deploy: switched from version ${this.#version} to ${wanted} in ${Math.round(performance.now() - began)} ms`);
      this.#version = wanted;
      this.#error = "";
    } catch (error) {
      this.#error = `version ${wanted}: ${error instanceof Error ? error.message : String(error)}`;
      this.#failedAt = Date.now();
      this.#logger.error(`deploy: could not switch to ${this.#error}; still running version ${this.#version}`);
    }
  }

  async #beat(): Promise<void> {
    this.#beatAt = Date.now();
    await this.#channel.heartbeat({
      id: this.id,
      role: this.#role,
      host: this.id.split(":")[0]!,
      pid: process.pid,
      version: this.#version,
      holds: [...this.#held.keys()],
      backlog: this.#backlog,
      error: this.#error,
      startedAt: this.#startedAt,
      seenAt: Date.now(),
    });
  }

  /** Stops polling (the writers stop with the process; a hold it kept ends with them). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
  }
}

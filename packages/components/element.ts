/**
 * What the three elements share: reading their binding from attributes, loading the
 * view's rows (source.ts), the loading / empty / error states, `.rows` and the
 * `igloo-rows` event after each render, following their box (ResizeObserver) and the
 * color scheme. A subclass draws; this class decides when.
 *
 * Attribute changes are gathered for a microtask, so setting several at once (or the
 * parser creating the element) binds and draws once.
 */
import { BINDING_ATTRIBUTES, readBinding, type Attributes, type Binding } from "./attributes.ts";
import type { Row } from "./columns.ts";
import { openView, type ViewData } from "./source.ts";
import { BASE_CSS } from "./styles.ts";

/** Where an element finds the server when `url` is not set: where this module was loaded from. */
const MODULE_ORIGIN = new URL(import.meta.url).origin;

export type ElementState = "loading" | "empty" | "error" | "ready";

export abstract class IglooElement extends HTMLElement {
  /** Attributes that change the drawing but not the data; each subclass lists its own. */
  protected static drawingAttributes: readonly string[] = [];

  static get observedAttributes(): string[] {
    return [...BINDING_ATTRIBUTES, ...this.drawingAttributes];
  }

  /** What the subclass draws into. */
  protected readonly content: HTMLElement;
  /** A visually hidden description for screen readers, beside what is drawn for the eye. */
  readonly #summary: HTMLElement;
  protected readonly attribute: Attributes = (name) => this.getAttribute(name);
  readonly #status: HTMLElement;
  #state: ElementState = "loading";
  #rows: readonly Row[] = [];
  #data: ViewData | undefined;
  #binding: Binding | undefined;
  #boundTo: string | undefined;
  #source: { close(): void } | undefined;
  #pending: "draw" | "bind" | undefined;
  #resize: ResizeObserver | undefined;
  #size = { width: 0, height: 0 };
  readonly #scheme = matchMedia("(prefers-color-scheme: dark)");
  readonly #onScheme = () => {
    this.restyle();
    this.#redraw();
  };
  #description: (() => Node | string) | undefined;
  #describing: ReturnType<typeof setTimeout> | undefined;

  constructor(css: string) {
    super();
    const root = this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = BASE_CSS + css;
    this.#status = document.createElement("div");
    this.#status.setAttribute("part", "state loading");
    this.#status.setAttribute("role", "status");
    this.content = document.createElement("div");
    this.content.className = "content";
    this.#summary = document.createElement("div");
    this.#summary.className = "sr";
    root.append(style, this.#status, this.content, this.#summary);
  }

  /** The rows the element last drew. */
  get rows(): readonly Row[] {
    return this.#rows;
  }

  get state(): ElementState {
    return this.#state;
  }

  /** Reads the view again (and reconnects when live). */
  refresh(): void {
    this.#boundTo = undefined;
    this.#schedule("bind");
  }

  connectedCallback(): void {
    this.#resize = new ResizeObserver((entries) => {
      const box = entries[entries.length - 1]?.contentRect;
      if (!box || (Math.abs(box.width - this.#size.width) < 1 && Math.abs(box.height - this.#size.height) < 1)) return;
      this.#size = { width: box.width, height: box.height };
      if (this.#state === "ready") this.resized(box.width, box.height);
    });
    this.#resize.observe(this);
    this.#scheme.addEventListener("change", this.#onScheme);
    this.#schedule("bind");
  }

  disconnectedCallback(): void {
    this.#resize?.disconnect();
    this.#scheme.removeEventListener("change", this.#onScheme);
    this.#source?.close();
    this.#source = undefined;
    this.#boundTo = undefined;
    clearTimeout(this.#describing);
    this.#describing = undefined;
  }

  attributeChangedCallback(name: string, before: string | null, after: string | null): void {
    if (before === after) return;
    const binding = (BINDING_ATTRIBUTES as readonly string[]).includes(name);
    if (!binding) this.restyle();
    this.#schedule(binding ? "bind" : "draw");
  }

  /** Draws the rows (never empty); returns what is wrong with the attributes, if anything. */
  protected abstract draw(data: ViewData, binding: Binding): string | undefined;

  /** The element's box changed while it shows rows. */
  protected resized(_width: number, _height: number): void {}

  /** The color scheme or a drawing attribute changed: what was derived from styles is stale. */
  protected restyle(): void {}

  /**
   * Sets the screen readers' description, at most once a second (the first at once, the
   * latest after): rebuilding a hidden table of 100 rows on every live update would cost
   * each update more than its drawing.
   */
  protected describe(build: () => Node | string): void {
    this.#description = build;
    if (this.#describing !== undefined) return;
    const apply = () => {
      const next = this.#description;
      this.#description = undefined;
      if (next === undefined) return void (this.#describing = undefined);
      const content = next();
      this.#summary.replaceChildren(content);
      this.#describing = setTimeout(apply, 1_000);
    };
    apply();
  }

  /** The box's content size, as last observed (0 before the first observation). */
  protected get size(): { readonly width: number; readonly height: number } {
    if (this.#size.width === 0) this.#size = { width: this.clientWidth, height: this.clientHeight };
    return this.#size;
  }

  #schedule(what: "draw" | "bind"): void {
    const first = this.#pending === undefined;
    if (this.#pending !== "bind") this.#pending = what;
    if (!first) return;
    queueMicrotask(() => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (!this.isConnected) return;
      if (pending === "bind") this.#bind();
      else this.#redraw();
    });
  }

  #bind(): void {
    const binding = readBinding(this.attribute, MODULE_ORIGIN);
    if ("problem" in binding) {
      this.#source?.close();
      this.#source = undefined;
      this.#boundTo = undefined;
      return this.#show("error", `<${this.localName}>: ${binding.problem}`);
    }
    const key = JSON.stringify(binding);
    if (key === this.#boundTo) return this.#redraw();
    this.#source?.close();
    this.#boundTo = key;
    this.#binding = binding;
    this.#data = undefined;
    this.#show("loading", `Loading view \`${binding.view}\`…`);
    this.#source = openView(binding, {
      data: (data) => {
        this.#data = data;
        this.#redraw();
      },
      error: (message, lasting) => this.#show("error", `Cannot show view \`${binding.view}\`: ${withoutPrefix(message, binding.view)}${lasting || !binding.live ? "" : " (retrying)"}`),
    });
  }

  #redraw(): void {
    const data = this.#data;
    const binding = this.#binding;
    if (!data || !binding) return;
    if (data.rows.length === 0) {
      this.content.hidden = true;
      this.describe(() => "");
      this.#show("empty", `View \`${binding.view}\` has no rows${Object.keys(binding.params).length > 0 ? " for these parameters" : ""}.`);
    } else {
      this.content.hidden = false;
      const problem = this.draw(data, binding);
      if (problem !== undefined) return this.#show("error", `<${this.localName}> of view \`${binding.view}\`: ${problem}`);
      this.#show("ready", "");
    }
    this.#rows = data.rows;
    this.dispatchEvent(new CustomEvent("igloo-rows", { detail: data.rows, bubbles: true, composed: true }));
  }

  #show(state: ElementState, message: string): void {
    this.#state = state;
    this.#status.setAttribute("part", `state ${state}`);
    this.#status.setAttribute("role", state === "error" ? "alert" : "status");
    this.#status.textContent = message;
    if (state === "loading" && this.#rows.length === 0) this.content.hidden = true;
    if (state === "error") this.dispatchEvent(new CustomEvent("igloo-error", { detail: message, bubbles: true, composed: true }));
  }
}

/** The client's messages start with what failed ("view top_pages: ..."), which the element says itself. */
function withoutPrefix(message: string, view: string): string {
  for (const prefix of [`view ${view}: `, `subscription to ${view}: `]) if (message.startsWith(prefix)) return message.slice(prefix.length);
  return message;
}

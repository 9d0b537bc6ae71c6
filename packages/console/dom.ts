/**
 * The few DOM helpers the pages share: elements from a tag, properties and children (text
 * is always a text node, never parsed as HTML, so a record's content cannot become markup),
 * and how numbers, rates and durations are written.
 */
type Child = Node | string | number | null | undefined | false;
/** Children nest as the pages build them (a list per item); they are flattened in order. */
export type Children = Child | readonly Children[];
type Props = Readonly<Record<string, string | number | boolean | EventListener | undefined>>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: readonly Children[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === "function") element.addEventListener(name.replace(/^on/, ""), value);
    else if (name === "class") element.className = String(value);
    else if (name in element && name !== "list" && name !== "form") (element as unknown as Record<string, unknown>)[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

/** A custom element (a dashboard element), its settings as attributes, as a page's markup would give them. */
export function custom(tag: string, attributes: Readonly<Record<string, string | number | boolean>>): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== false) element.setAttribute(name, value === true ? "" : String(value));
  return element;
}

export function append(parent: Node, children: readonly Children[]): void {
  for (const child of (children as readonly unknown[]).flat(Infinity) as Child[]) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(parent: Element, ...children: readonly Children[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** Records a second, with a digit below 10. */
export function rate(perSecond: number | undefined): string {
  if (perSecond === undefined) return "–/s";
  return `${perSecond < 10 && perSecond > 0 ? perSecond.toFixed(1) : Math.round(perSecond).toLocaleString("en-US")}/s`;
}

export function ms(value: number): string {
  return value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value).toLocaleString("en-US")} ms`;
}

/** `1 GiB`, `256 MiB`, `30 s`: a limit's value as its unit suggests, from its setting's name. */
export function limitValue(setting: string, value: number): string {
  if (setting.endsWith("_BYTES")) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let unit = 0;
    while (value >= 1024 && value % 1024 === 0 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${count(value)} ${units[unit]}`;
  }
  if (setting.endsWith("_MS")) return value >= 1000 && value % 1000 === 0 ? `${count(value / 1000)} s` : `${count(value)} ms`;
  if (setting.endsWith("_PERCENT")) return `${value}%`;
  return count(value);
}

/** `file:line:column` where a function's error says where it threw: `(at functions/x.ts:12:5)`. */
export function errorPlace(error: string): string | undefined {
  return /\(at ((?:functions|datamodels|views)\/[^\s)]+:\d+(?::\d+)?)\)/.exec(error)?.[1];
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

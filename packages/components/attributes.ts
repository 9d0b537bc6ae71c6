/**
 * The elements' attributes read back, the inverse of `attributesOf` in
 * packages/client/dashboard.ts (which the generated client's typed calls use): lists are
 * comma-separated, `params` is a JSON object, a boolean is on when present (and not "false").
 */

/** What every element binds to: a view, its parameters, and the server. */
export interface Binding {
  readonly view: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly live: boolean;
  readonly url: string;
  readonly key: string | undefined;
}

export const BINDING_ATTRIBUTES = ["view", "params", "live", "url", "key"] as const;

export type Attributes = (name: string) => string | null;

export function flag(get: Attributes, name: string): boolean {
  const value = get(name);
  return value !== null && value.trim().toLowerCase() !== "false";
}

export function list(get: Attributes, name: string): string[] {
  return (get(name) ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** A trimmed attribute, or undefined when absent or blank. */
export function text(get: Attributes, name: string): string | undefined {
  const value = get(name)?.trim();
  return value === undefined || value === "" ? undefined : value;
}

export function positiveInteger(get: Attributes, name: string, fallback: number): number {
  const value = Number(get(name));
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

/** The binding, or what is wrong with the attributes, said so a page author can fix it. */
export function readBinding(get: Attributes, defaultUrl: string): Binding | { readonly problem: string } {
  const view = text(get, "view");
  if (view === undefined) return { problem: "no view: set the `view` attribute to the name of a view (views/<name>.sql)" };
  let params: unknown = {};
  const rawParams = text(get, "params");
  if (rawParams !== undefined) {
    try {
      params = JSON.parse(rawParams);
    } catch {
      return { problem: `view \`${view}\`: the \`params\` attribute is not JSON; write an object, e.g. params='{"userId": "u-1"}'` };
    }
    if (typeof params !== "object" || params === null || Array.isArray(params)) {
      return { problem: `view \`${view}\`: the \`params\` attribute must be a JSON object of the view's parameters, e.g. params='{"userId": "u-1"}'` };
    }
  }
  return { view, params: params as Record<string, unknown>, live: flag(get, "live"), url: text(get, "url") ?? defaultUrl, key: text(get, "key") };
}

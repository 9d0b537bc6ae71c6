/**
 * An ingest form generated from a model: one input per field, chosen from the JSON Schema
 * of what ingest accepts for it (the type module's `input` face, the same schema
 * /openapi.json publishes), the record it makes, and the same record as a `curl` command
 * and as a call of the generated client. Empty inputs are left out of the record, so
 * ingest fills in defaults and nulls as it would for any client.
 */
import { postJson } from "./api.ts";
import { fill, h } from "./dom.ts";
import type { FieldInfo, ModelInfo } from "./protocol.ts";

type Schema = Readonly<Record<string, unknown>>;
type Kind = "enum" | "boolean" | "integer" | "number" | "exact" | "json" | "date" | "text";

interface Input {
  readonly field: FieldInfo;
  readonly list: boolean;
  readonly kind: Kind;
  readonly control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
}

/** The schema without its null alternative (optional fields) and its array (lists). */
function unwrap(schema: Schema): { readonly scalar: Schema; readonly list: boolean } {
  const anyOf = schema.anyOf as Schema[] | undefined;
  const inner = anyOf?.find((s) => s.type !== "null") ?? schema;
  return inner.type === "array" ? { scalar: (inner.items as Schema | undefined) ?? {}, list: true } : { scalar: inner, list: false };
}

function kindOf(schema: Schema): Kind {
  if (Array.isArray(schema.enum)) return "enum";
  const alternatives = (schema.oneOf as Schema[] | undefined)?.map((s) => s.type) ?? [];
  // 64-bit integers and decimals: a number, or digits as text, which keeps them exact.
  if (alternatives.includes("integer") || (alternatives.includes("number") && (schema.oneOf as Schema[]).some((s) => typeof s.pattern === "string"))) return "exact";
  if (schema.type === "boolean" || schema.type === "integer" || schema.type === "number") return schema.type;
  if (schema.format === "date") return "date";
  if (Object.keys(schema).every((k) => k === "description")) return "json";
  return "text";
}

function value(kind: Kind, text: string): unknown {
  switch (kind) {
    case "boolean":
      return text === "true";
    case "integer":
    case "number":
      return text.trim() === "" || Number.isNaN(Number(text)) ? text : Number(text);
    case "json":
      try {
        return JSON.parse(text);
      } catch {
        return text;
      }
    default:
      return text;
  }
}

function control(field: FieldInfo, kind: Kind, scalar: Schema, list: boolean): Input["control"] {
  const name = field.name;
  if (!list && kind === "enum") return h("select", { name }, h("option", { value: "" }, field.optional ? "(left out)" : "choose…"), (scalar.enum as string[]).map((v) => h("option", { value: v }, v)));
  if (!list && kind === "boolean") return h("select", { name }, h("option", { value: "" }, field.optional ? "(left out)" : "choose…"), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  if (kind === "json") return h("textarea", { name, rows: 3, placeholder: '{"any": "JSON"}' });
  const placeholder = list ? "comma-separated" : kind === "text" && field.columnType.startsWith("DateTime") ? new Date().toISOString() : kind === "date" ? "2026-01-31" : "";
  return h("input", { name, placeholder, inputmode: kind === "integer" || kind === "number" || kind === "exact" ? "decimal" : "text", autocomplete: "off" });
}

/** A shell word in single quotes. */
const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

export function ingestForm(model: ModelInfo, key: string | undefined): HTMLElement {
  const inputs: Input[] = model.fields.map((field) => {
    const { scalar, list } = unwrap(field.schema);
    const kind = kindOf(scalar);
    return { field, list, kind, control: control(field, kind, scalar, list) };
  });
  const curl = h("pre", { "data-snippet": "curl" });
  const client = h("pre", { "data-snippet": "client" });
  const verdict = h("div", { role: "status" });

  const record = (): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const { field, list, kind, control } of inputs) {
      const text = control.value;
      if (text.trim() === "") continue;
      out[field.name] = list ? text.split(",").map((item) => value(kind, item.trim())) : value(kind, text);
    }
    return out;
  };
  const snippets = () => {
    const json = JSON.stringify(record());
    const origin = location.origin;
    const auth = key ? ` \\\n  -H "authorization: Bearer $IGLOO_KEY"` : "";
    curl.textContent = `curl -X POST ${origin}/ingest/${model.name} \\\n  -H 'content-type: application/json'${auth} \\\n  -d ${shellQuote(json)}`;
    client.textContent =
      `import { createClient } from "./.igloo/client/index.js";\n\n` +
      `const client = createClient({ url: ${JSON.stringify(origin)}${key ? ", key: process.env.IGLOO_KEY" : ""} });\n` +
      `const verdict = await client.ingest.${model.name}(${JSON.stringify(record(), null, 2)});`;
  };

  const form = h(
    "form",
    {
      class: "grid",
      onsubmit: ((event: Event) => {
        event.preventDefault();
        fill(verdict, "Sending…");
        postJson<{ accepted: number; rejected: number; errors: { message: string }[] }>(`/ingest/${encodeURIComponent(model.name)}`, record()).then(
          (answer) =>
            fill(
              verdict,
              answer.accepted > 0
                ? h("span", { class: "ok" }, "Accepted: it shows in the tail above once its table has it.")
                : h("span", { class: "bad" }, `Rejected (it went to the dead letters): ${answer.errors.map((e) => e.message).join("; ")}`),
            ),
          (error: unknown) => fill(verdict, h("span", { class: "bad" }, error instanceof Error ? error.message : String(error))),
        );
      }) as EventListener,
      oninput: snippets as EventListener,
      onchange: snippets as EventListener,
    },
    inputs.map(({ field, control: input, list }) => {
      const hint = [field.type, ...field.attributes, (field.schema.description as string | undefined) ?? (unwrap(field.schema).scalar.description as string | undefined), list ? "a list: comma-separated" : undefined]
        .filter(Boolean)
        .join(" · ");
      input.id = `field-${field.name}`;
      return [h("label", { for: input.id }, field.name, field.optional ? "" : " *"), input, h("small", {}, hint)];
    }),
    h("span"),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, `POST /ingest/${model.name}`), verdict),
  );
  snippets();
  return h("div", { class: "cols" }, h("div", {}, form), h("div", {}, h("h3", {}, "curl"), curl, h("h3", {}, "The generated client"), client));
}

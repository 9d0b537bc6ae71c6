import type { ModelIR } from "../../conventions/datamodels/ir.ts";
import type { IngestTarget } from "../ingest/ingest.ts";

/**
 * The writer's check of records in a topic: rows as Igloo writes them, or as a program
 * outside Igloo wrote them. They may name fields or columns; a `Json` field (stored as
 * text) holds JSON text, as in the rows Igloo writes, and is checked as the value that
 * text encodes (the ingest check would encode the text once more). Fields the model does
 * not have are dropped, not refused: records an older build acknowledged still hold the
 * fields a migration removed, and the table has no column for them. A valid one becomes
 * the row the table takes.
 */
export function rowCheck(target: IngestTarget, storable: ModelIR): IngestTarget["validate"] {
  const { toRow, toRecord, validate } = target;
  const jsonText = storable.fields.filter((f) => f.type.kind === "json" && !f.type.native);
  const known = new Set(target.model.fields.map((f) => f.name));
  return (input) => {
    if (typeof input !== "object" || input === null || Array.isArray(input)) return validate(input);
    let record = toRecord ? toRecord(input as Record<string, unknown>) : (input as Record<string, unknown>);
    if (Object.keys(record).some((name) => !known.has(name))) record = Object.fromEntries(Object.entries(record).filter(([name]) => known.has(name)));
    if (jsonText.length > 0) {
      record = { ...record };
      for (const field of jsonText) {
        const value = record[field.name];
        const texts = field.list && Array.isArray(value) ? value : [value];
        const decoded: unknown[] = [];
        for (const text of texts) {
          if (typeof text !== "string") {
            decoded.push(text);
            continue;
          }
          try {
            decoded.push(JSON.parse(text));
          } catch (error) {
            return { ok: false, error: `field \`${field.name}\`: a topic holds Json fields as JSON text, and this is not JSON (${error instanceof Error ? error.message : String(error)})` };
          }
        }
        record[field.name] = field.list && Array.isArray(value) ? decoded : decoded[0];
      }
    }
    const checked = validate(record);
    return checked.ok && toRow ? { ok: true, record: toRow(checked.record) } : checked;
  };
}

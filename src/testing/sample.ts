/**
 * `sample(model, { count, seed })` from igloo/testing: records of a model that ingest
 * accepts, generated from its description and reproducible by seed. Every fourth record
 * leans to the edges of each type (the largest and smallest integers and decimals, the
 * first and last instants a column holds, empty and non-ASCII text...), the others are
 * ordinary; optional fields are sometimes null or left out, fields with a default
 * sometimes left out. `sample.invalid` gives records ingest refuses, each with the reason
 * ingest gives. Values come from each type's `sample` face (typeFaces.ts), and every record
 * is checked by the model's own validator before it is handed out.
 */
import { sampleValue } from "../../conventions/datamodels/fieldTypes.ts";
import type { FieldIR, ModelIR } from "../../conventions/datamodels/ir.ts";
import { compileValidator, type Validator } from "../../conventions/datamodels/validator.ts";
import { IglooError } from "../../conventions/errors.ts";
import { loadProject } from "../../conventions/project.ts";
import type { InvalidSample, SampleOptions } from "../../packages/testing/api.ts";
import { seeded } from "./random.ts";
import { findProjectRoot } from "./testPipeline.ts";

const models = new Map<string, readonly ModelIR[]>();
const validators = new WeakMap<ModelIR, Validator>();

function modelNamed(name: string, root: string | undefined): ModelIR {
  const dir = root ?? findProjectRoot(process.cwd());
  if (!models.has(dir)) {
    const project = loadProject(dir);
    if (project.errors.length > 0) throw project.errors[0]!;
    models.set(dir, project.models.models);
  }
  const all = models.get(dir)!;
  const model = all.find((m) => m.name === name);
  if (!model) throw new IglooError("E_UNKNOWN_MODEL", `sample: no model named \`${name}\`; the project has ${all.map((m) => `\`${m.name}\``).join(", ") || "no models"}.`);
  return model;
}

function validatorOf(model: ModelIR): Validator {
  let validate = validators.get(model);
  if (!validate) validators.set(model, (validate = compileValidator(model)));
  return validate;
}

function fieldValue(field: FieldIR, next: () => number, edge: boolean): unknown {
  const draw = { next, edge: edge && next() < 0.7 };
  if (!field.list) return sampleValue(field.type, draw);
  return Array.from({ length: draw.edge ? 0 : Math.floor(next() * 4) }, () => sampleValue(field.type, { next, edge: false }));
}

function record(model: ModelIR, next: () => number, edge: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of model.fields) {
    const roll = next();
    if (field.default !== undefined && roll < 0.2) continue;
    if (field.optional && roll < 0.3) {
      if (roll < 0.15) out[field.name] = null;
      continue;
    }
    out[field.name] = fieldValue(field, next, edge);
  }
  return out;
}

/** Records of `model` that ingest accepts, the same for the same seed. */
export function sample(model: string, options: SampleOptions = {}): Record<string, unknown>[] {
  const ir = modelNamed(model, options.root);
  const validate = validatorOf(ir);
  const next = seeded(options.seed ?? 1);
  return Array.from({ length: options.count ?? 10 }, (_, i) => {
    const candidate = record(ir, next, i % 4 === 0);
    const verdict = validate(candidate);
    // A sample ingest refuses is a bug of sample(), not of the project: say so loudly.
    if (!verdict.ok) throw new IglooError("E_SAMPLE", `sample(${model}) made a record ingest refuses (${verdict.error}): ${JSON.stringify(candidate).slice(0, 500)}`);
    return candidate;
  });
}

/** Ways to spoil a valid record, each as ingest would meet it from a faulty client. */
const SPOILERS: readonly ((model: ModelIR, record: Record<string, unknown>, next: () => number) => boolean)[] = [
  // a required field left out
  (model, record, next) => {
    const required = model.fields.filter((f) => !f.optional && f.default === undefined && !f.list);
    if (required.length === 0) return false;
    delete record[required[Math.floor(next() * required.length)]!.name];
    return true;
  },
  // a value of the wrong kind
  (model, record, next) => {
    const field = model.fields[Math.floor(next() * model.fields.length)]!;
    record[field.name] = field.list ? "not a list" : field.type.kind === "string" || field.type.kind === "enum" ? 12 : { wrong: true };
    return true;
  },
  // a field the model does not have
  (_model, record) => {
    record.notAField = 1;
    return true;
  },
  // an integer past its type's range
  (model, record, next) => {
    const ints = model.fields.filter((f) => f.type.kind === "int" && f.type.bits <= 32 && !f.list);
    if (ints.length === 0) return false;
    const field = ints[Math.floor(next() * ints.length)]!;
    record[field.name] = field.type.kind === "int" ? 2 ** field.type.bits : 0;
    return true;
  },
];

/** Records of `model` that ingest refuses, each with the reason it gives. */
function invalid(model: string, options: SampleOptions = {}): InvalidSample[] {
  const ir = modelNamed(model, options.root);
  const validate = validatorOf(ir);
  const next = seeded((options.seed ?? 1) + 7919);
  const valid = sample(model, { ...options, count: options.count ?? 10 });
  return valid.map((base) => {
    for (let attempt = 0; attempt < 20; attempt++) {
      const candidate = structuredClone(base);
      if (!SPOILERS[Math.floor(next() * SPOILERS.length)]!(ir, candidate, next)) continue;
      const verdict = validate(candidate);
      if (!verdict.ok) return { record: candidate, reason: verdict.error };
    }
    throw new IglooError("E_SAMPLE", `sample.invalid(${model}) could not spoil ${JSON.stringify(base).slice(0, 300)}`);
  });
}

sample.invalid = invalid;

/**
 * The generated client's types, checked by the real compiler: a client is generated for
 * a small project into a temp dir and files using it go through the repository's `tsc`.
 * Correct use compiles under the strictest settings, for a browser (DOM library, no Node
 * or Bun types) and for Node (NodeNext resolution); each misuse fails at its own line.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseModels } from "../conventions/prisma/parse.ts";
import { clientModule } from "../src/generate/client.ts";
import { removeDir, REPO, tempDir } from "./helpers/igloo.ts";
import { parseType } from "../conventions/datamodels/typeFaces.ts";

const MODELS = `
enum Status {
  paid
  refunded
}

/// An order.
model Order {
  id     String   @id
  ts     DateTime @default(now())
  amount Decimal  @db.Decimal(18, 2)
  qty    Int      @db.UInt16
  total  BigInt   @db.UInt64
  status Status
  coupon String?
  tags   String[]
}
`;

const VIEWS = [
  {
    name: "revenue",
    columns: [
      { name: "status", type: "Enum8('paid' = 1, 'refunded' = 2)" },
      { name: "total", type: "UInt64" },
      { name: "amount", type: "Decimal(38, 2)" },
      { name: "orders", type: "UInt32" },
      { name: "coupon", type: "Nullable(String)" },
      { name: "day", type: "Date32" },
    ],
    params: [
      { name: "since", type: "DateTime" },
      { name: "minTotal", type: "Nullable(UInt64)" },
      { name: "statuses", type: "Array(String)" },
    ],
  },
  { name: "all_orders", columns: [{ name: "id", type: "String" }], params: [] },
];

const STRICT = {
  target: "ES2022",
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  noImplicitOverride: true,
  noImplicitReturns: true,
  noPropertyAccessFromIndexSignature: true,
  noUnusedLocals: true,
  noUnusedParameters: true,
  noFallthroughCasesInSwitch: true,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  erasableSyntaxOnly: true,
  noEmit: true,
  skipLibCheck: false,
};

const BROWSER = { ...STRICT, module: "ESNext", moduleResolution: "bundler", lib: ["ES2022", "DOM"], types: [] as string[] };
const NODE = { ...STRICT, module: "NodeNext", moduleResolution: "NodeNext", lib: ["ES2022"], types: ["node"], typeRoots: [join(REPO, "node_modules", "@types")] };

const HEAD = `import { createClient } from "./client/index.js";\nconst client = createClient({ url: "http://127.0.0.1:1" });\n`;
const order = `id: "o1", amount: "19.90", qty: 3, total: 12345678901234567890n, status: "paid"`;

const OK = `import { createClient, IglooError, type IglooIngestVerdict, type IglooRejection, type Order, type RevenueRow } from "./client/index.js";

export async function main(): Promise<void> {
  const onRejected = (rejection: IglooRejection) => console.log(rejection.model, rejection.message, rejection.record);
  const client = createClient({ url: "http://127.0.0.1:1", key: "k", ingest: { maxBatchRecords: 100, backoff: { maxMs: 2000 }, onRejected, onError: (e: IglooError) => console.log(e.code) } });
  const sent: void = client.ingest.Order.send({ ${order} });
  client.ingest.Order.send([{ ${order} }]);
  const one: IglooIngestVerdict = await client.ingest.Order({ ${order}, ts: Date.now(), tags: ["a"] });
  const many = await client.ingest.Order([{ ${order} }, { ${order}, coupon: null, ts: "2026-01-01T00:00:00Z" }]);
  const rows: RevenueRow[] = await client.views.revenue({ since: "2026-01-01 00:00:00", statuses: ["paid"], minTotal: 18446744073709551615n }, { after: [one.token, many.token], waitMs: 1000 });
  const first = rows[0];
  if (first) {
    const total: string = first.total;
    const amount: string = first.amount;
    const orders: number = first.orders;
    const coupon: string | null = first.coupon;
    const status: "paid" | "refunded" = first.status;
    console.log(total, amount, orders, coupon, status, first.day);
  }
  const subscription = client.views.revenue.subscribe({ since: "2026-01-01 00:00:00", statuses: [] }, (live) => console.log(live[0]?.total), {
    onError: (error: IglooError, willRetry: boolean) => console.log(error.code, error.status, willRetry),
  });
  subscription.close();
  const all: { id: string }[] = await client.views.all_orders();
  const stored: Order | undefined = undefined;
  console.log(all, stored, many.errors[0]?.index, sent);
  await client.flush();
  await client.close({ timeoutMs: 100 });
}
`;

/** Each misuse, on the line marked `// <- here`, with the compiler errors accepted for it. */
const BAD: Record<string, { codes: string[]; text: string }> = {
  "bad-field.ts": { codes: ["TS2353", "TS2561"], text: `void client.ingest.Order({ ${order}, amout: 1 }); // <- here\n` },
  "bad-field-type.ts": { codes: ["TS2322"], text: `void client.ingest.Order([{ id: "o1", amount: "1", qty: "3", total: 1, status: "paid" }]); // <- here\n` },
  "bad-enum.ts": { codes: ["TS2322"], text: `void client.ingest.Order({ ${order.replace('"paid"', '"lost"')} }); // <- here\n` },
  "bad-param-type.ts": { codes: ["TS2322"], text: `void client.views.revenue({ since: 20260101, statuses: [] }); // <- here\n` },
  "bad-param-missing.ts": { codes: ["TS2554"], text: `void client.views.revenue(); // <- here\n` },
  "bad-column.ts": { codes: ["TS2339", "TS2551"], text: `void client.views.revenue({ since: "x", statuses: [] }).then((rows) => rows[0]?.revenu); // <- here\n` },
  "bad-precision.ts": { codes: ["TS2322"], text: `void client.views.revenue({ since: "x", statuses: [] }).then((rows) => { const n: number | undefined = rows[0]?.total; return n; }); // <- here\n` },
  "bad-send-field.ts": { codes: ["TS2353", "TS2561"], text: `client.ingest.Order.send({ ${order}, amout: 1 }); // <- here\n` },
  "bad-model.ts": { codes: ["TS2339", "TS2551"], text: `void client.ingest.Orders({ ${order} }); // <- here\n` },
};

let dir: string;

function write(path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

function tsc(name: string, options: object, files: string[]): { code: number; output: string } {
  write(name, JSON.stringify({ compilerOptions: options, files }, null, 2));
  const result = Bun.spawnSync([join(REPO, "node_modules", ".bin", "tsc"), "-p", name, "--pretty", "false"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  return { code: result.exitCode, output: result.stdout.toString() + result.stderr.toString() };
}

beforeAll(() => {
  dir = tempDir("client-types");
  const { models, errors } = parseModels([{ path: "datamodels/Order.prisma", text: MODELS }]);
  expect(errors).toEqual([]);
  for (const [name, text] of Object.entries(clientModule({ models: models.models, views: described(VIEWS) }))) write(`client/${name}`, text);
  // NodeNext reads the nearest package.json to tell ES modules from CommonJS.
  write("package.json", JSON.stringify({ type: "module" }));
  write("ok.ts", OK);
  for (const [name, bad] of Object.entries(BAD)) write(name, HEAD + bad.text);
});

afterAll(() => removeDir(dir));

test("correct use compiles under the strictest settings, for a browser", () => {
  const result = tsc("tsconfig.browser.json", BROWSER, ["ok.ts"]);
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
});

test("correct use compiles under the strictest settings, for Node (NodeNext)", () => {
  const result = tsc("tsconfig.node.json", NODE, ["ok.ts"]);
  expect(result.output).toBe("");
  expect(result.code).toBe(0);
});

test("each misuse fails to compile, at its own line, and nothing else does", () => {
  const names = Object.keys(BAD);
  const result = tsc("tsconfig.bad.json", BROWSER, names);
  expect(result.code).toBe(2);
  const errors = result.output
    .split("\n")
    .map((line) => /^(\S+)\((\d+),\d+\): error (TS\d+):/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ file: m[1]!, line: Number(m[2]), code: m[3]! }));
  expect(errors.map((e) => e.file).sort()).toEqual([...names].sort());
  for (const error of errors) {
    const bad = BAD[error.file]!;
    const expectedLine = (HEAD + bad.text).split("\n").findIndex((l) => l.includes("// <- here")) + 1;
    expect({ file: error.file, line: error.line, known: bad.codes.includes(error.code) }).toEqual({ file: error.file, line: expectedLine, known: true });
  }
});

/** Views as the engine describes them, types parsed as describeViews does. */
function described(views: typeof VIEWS) {
  const parse = (list: readonly { name: string; type: string }[]) => list.map((c) => ({ name: c.name, type: parseType(c.type) }));
  return views.map((view) => ({ ...view, columns: parse(view.columns), params: parse(view.params) }));
}

import { describe, expect, test } from "bun:test";
import { parseViews } from "../conventions/views/parse.ts";
import { typeName } from "../conventions/datamodels/typeFaces.ts";

const one = (text: string, path = "views/v.sql") => parseViews([{ path, text }]);

function view(text: string, path?: string) {
  const { views, errors } = one(text, path);
  expect(errors.map((e) => e.message)).toEqual([]);
  return views[0]!;
}

function error(text: string, path?: string): string {
  const { views, errors } = one(text, path);
  expect(views).toEqual([]);
  expect(errors).toHaveLength(1);
  expect(errors[0]!.code).toBe("E_CONVENTION");
  return errors[0]!.message;
}

describe("parseViews: the view", () => {
  test("is named after the file and keeps the SELECT without comments, whitespace or the final semicolon", () => {
    const v = view("-- pages by views\n\n  SELECT path, count() AS n FROM PageView GROUP BY path ;  -- done\n", "views/top_pages.sql");
    expect(v.name).toBe("top_pages");
    expect(v.file).toBe("views/top_pages.sql");
    expect(v.sql).toBe("SELECT path, count() AS n FROM PageView GROUP BY path");
    expect(v.source).toEqual({ file: "views/top_pages.sql", line: 3, column: 3 });
    expect(v.params).toEqual([]);
  });

  test("WITH ... SELECT is a SELECT", () => {
    expect(view("with x as (select 1 as a) select a from x").sql).toBe("with x as (select 1 as a) select a from x");
  });

  test("semicolons and braces inside strings, quoted identifiers and comments are not syntax", () => {
    const v = view("SELECT ';' AS `a;b`, '{x:Map}' AS \"c;d\" /* ; {y:UInt8} */ FROM t -- ; SELECT 2\n");
    expect(v.params).toEqual([]);
    expect(v.references).toEqual(["t"]);
  });
});

describe("parseViews: parameters", () => {
  test("are listed in order of first appearance, once each, with canonical types", () => {
    const v = view(
      "SELECT * FROM t WHERE country = {country:String} AND d >= {from: Date} AND n IN {ids:Array(UInt64)} AND c = {country:String} AND x < {max:Decimal(10,2)} AND y = {y:Nullable(DateTime64(3))}",
    );
    expect(v.params.map((p) => ({ name: p.name, type: typeName(p.type) }))).toEqual([
      { name: "country", type: "String" },
      { name: "from", type: "Date" },
      { name: "ids", type: "Array(UInt64)" },
      { name: "max", type: "Decimal(10, 2)" },
      { name: "y", type: "Nullable(DateTime64(3))" },
    ]);
  });

  test("every supported type parses", () => {
    const types = [
      "String", "Int8", "Int16", "Int32", "Int64", "Int128", "Int256", "UInt8", "UInt16", "UInt32", "UInt64", "UInt128", "UInt256",
      "Float32", "Float64", "Decimal(76, 10)", "Bool", "Date", "Date32", "DateTime", "DateTime64(9)", "UUID",
      "Array(String)", "Nullable(Int32)", "Array(Nullable(Date))", "Array(Array(Float64))",
    ];
    const v = view(`SELECT ${types.map((t, i) => `{p${i}:${t}}`).join(", ")}`);
    expect(v.params.map((p) => typeName(p.type))).toEqual(types);
  });

  test("one name with two types is an error at the second", () => {
    expect(error("SELECT {a:String},\n  {a:Int32}")).toBe("views/v.sql:2:3: parameter `a` is declared as String and here as Int32. Give it one type everywhere.");
  });

  test("unsupported types are errors at the parameter, listing the supported ones", () => {
    expect(error("SELECT 1\nWHERE x = {m:Map(String, String)}")).toStartWith("views/v.sql:2:11: parameter `m`: type `Map(String, String)` is not supported for view parameters; use String, Int8..Int256");
    expect(error("SELECT {f:FixedString(3)}")).toStartWith("views/v.sql:1:8: parameter `f`: type `FixedString(3)` is not supported");
    expect(error("SELECT {d:Decimal(80, 2)}")).toBe("views/v.sql:1:8: parameter `d`: Decimal(P, S) needs 1 <= P <= 76 and 0 <= S <= P, got Decimal(80, 2)");
    expect(error("SELECT {t:DateTime64(3, 'UTC')}")).toStartWith("views/v.sql:1:8: parameter `t`: DateTime64(P) takes one precision from 0 to 9");
    expect(error("SELECT {n:Nullable(Array(Int8))}")).toStartWith("views/v.sql:1:8: parameter `n`: Nullable(Array(Int8)) is not a type the engine allows");
  });

  test("a placeholder without a type is an error", () => {
    expect(error("SELECT {country}")).toBe("views/v.sql:1:8: parameter `{country}` must be written {name:Type}. For example {country:String}.");
    expect(error("SELECT {country:String")).toBe("views/v.sql:1:8: unterminated parameter `{`; write parameters as {name:Type}");
  });
});

describe("parseViews: references", () => {
  test("tables after FROM and JOIN, without CTEs, subquery aliases, table functions or ARRAY JOIN columns", () => {
    const v = view(
      "WITH recent AS (SELECT * FROM PageView WHERE ts > now() - INTERVAL 1 DAY)\n" +
        "SELECT r.path, EXTRACT(DAY FROM r.ts), trim(BOTH ' ' FROM r.path), s.n\n" +
        "FROM recent AS r\n" +
        "LEFT JOIN `Purchase` p ON p.userId = r.userId\n" +
        "ARRAY JOIN r.tags AS tag\n" +
        "INNER JOIN (SELECT userId, count() AS n FROM Signup GROUP BY userId) AS s USING (userId)\n" +
        "CROSS JOIN numbers(3) AS num\n" +
        "WHERE r.userId IN (SELECT userId FROM other_view)",
    );
    expect(v.references).toEqual(["PageView", "Purchase", "Signup", "other_view"]);
  });

  test("comma-separated FROM lists and database-qualified names", () => {
    expect(view("SELECT * FROM a AS x, b y, system.numbers FINAL").references).toEqual(["a", "b", "system.numbers"]);
  });
});

describe("parseViews: errors", () => {
  test("an empty file", () => {
    expect(error("  -- nothing here\n\n")).toBe("views/v.sql:1:1: view file is empty. Write one SELECT query; the view is named after the file.");
    expect(error(";")).toStartWith("views/v.sql:1:1: view file is empty.");
  });

  test("more than one statement, at the second", () => {
    expect(error("SELECT 1;\n  DROP TABLE t")).toBe("views/v.sql:2:3: a view file holds exactly one SELECT, but a second statement starts here. Put each view in a file of its own.");
  });

  test("not a SELECT", () => {
    expect(error("\n INSERT INTO t VALUES (1)")).toBe("views/v.sql:2:2: a view is a SELECT query, but this file starts with `INSERT`. Write a SELECT (or WITH ... SELECT) query.");
    expect(error("(SELECT 1)")).toStartWith("views/v.sql:1:1: a view is a SELECT query, but this file starts with `(`.");
  });

  test("INTO OUTFILE and FORMAT clauses", () => {
    expect(error("SELECT 1 INTO OUTFILE '/tmp/x'")).toStartWith("views/v.sql:1:10: `INTO` is not allowed in a view.");
    expect(error("SELECT 1\nFORMAT CSV")).toStartWith("views/v.sql:2:1: `FORMAT` is not allowed in a view.");
    expect(view("SELECT format('{}', 'x') AS f").params).toEqual([]);
  });

  test("unterminated strings and comments", () => {
    expect(error("SELECT 'abc")).toBe("views/v.sql:1:8: unterminated string starting with '");
    expect(error("SELECT 1 /* open")).toBe("views/v.sql:1:10: unterminated comment `/*`");
  });

  test("file names: identifiers only, igloo_ reserved, unique", () => {
    expect(error("SELECT 1", "views/top-pages.sql")).toStartWith("views/top-pages.sql:1:1: view file name `top-pages` must be letters, digits and _ only");
    expect(error("SELECT 1", "views/1st.sql")).toStartWith("views/1st.sql:1:1: view file name `1st` must be");
    expect(error("SELECT 1", "views/igloo_stats.sql")).toBe(
      "views/igloo_stats.sql:1:1: view name `igloo_stats` starts with `igloo_`, which is reserved for Igloo's own tables. Rename the file.",
    );
    const { views, errors } = parseViews([
      { path: "views/a.sql", text: "SELECT 1" },
      { path: "other/a.sql", text: "SELECT 2" },
    ]);
    expect(views.map((v) => v.file)).toEqual(["views/a.sql"]);
    expect(errors.map((e) => e.message)).toEqual(["other/a.sql:1:1: view `a` is already declared by views/a.sql. View names must be unique; rename one of the files."]);
  });

  test("one broken file does not hide the others, and is listed as failed", () => {
    const { views, errors, failed } = parseViews([
      { path: "views/good.sql", text: "SELECT 1" },
      { path: "views/bad.sql", text: "SELECT 1; SELECT 2" },
    ]);
    expect(views.map((v) => v.name)).toEqual(["good"]);
    expect(errors).toHaveLength(1);
    expect(failed).toEqual(["bad"]);
  });
});

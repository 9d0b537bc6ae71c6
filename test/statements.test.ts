import { expect, test } from "bun:test";
import { sqlTokens, statementCount } from "../runtime/store/statements.ts";

test("counts statements, ignoring semicolons inside strings, identifiers and comments", () => {
  expect(statementCount("SELECT 1")).toBe(1);
  expect(statementCount("SELECT 1;")).toBe(1);
  expect(statementCount("  SELECT 1 ;  \n ")).toBe(1);
  expect(statementCount("SELECT 1; DROP TABLE t")).toBe(2);
  expect(statementCount("SELECT ';' AS a, `x;y` AS b, \"c;d\"")).toBe(1);
  expect(statementCount("SELECT 'it\\'s; fine'")).toBe(1);
  expect(statementCount("SELECT 1 -- ; DROP\n")).toBe(1);
  expect(statementCount("SELECT 1 /* ; */")).toBe(1);
  expect(statementCount("SELECT 1 /* x */; SELECT 2")).toBe(2);
  expect(statementCount("")).toBe(0);
  expect(statementCount(";;")).toBe(0);
  expect(statementCount("SELECT 'it''s; fine' # ; a comment\n")).toBe(1);
});

test("tokens: words, quoted names and strings unescaped, comments dropped", () => {
  expect(sqlTokens("SELECT `a``b`, \"c\\\"d\", 'e''f' /* x */ FROM s.t -- y")).toEqual([
    { kind: "word", text: "SELECT" },
    { kind: "quoted", text: "a`b" },
    { kind: "symbol", text: "," },
    { kind: "quoted", text: 'c"d' },
    { kind: "symbol", text: "," },
    { kind: "string", text: "e'f" },
    { kind: "word", text: "FROM" },
    { kind: "word", text: "s" },
    { kind: "symbol", text: "." },
    { kind: "word", text: "t" },
  ]);
});

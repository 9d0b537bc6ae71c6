import { expect, test } from "bun:test";
import { statementCount } from "../runtime/store/statements.ts";

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
});

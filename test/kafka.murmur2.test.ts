/** Keyed records land where any Kafka client puts their key: our murmur2 is kafkajs's (and the Java client's). */
import { expect, test } from "bun:test";
import { createRequire } from "node:module";
import { murmur2, toPositive } from "../runtime/stream/kafka/murmur2.ts";
import { random } from "./helpers/random.ts";

const kafkajsMurmur2 = createRequire(import.meta.url)("kafkajs/src/producer/partitioners/default/murmur2.js") as (key: string) => number;

test("murmur2 agrees with kafkajs on random keys of every length, unicode included", () => {
  const next = random(7);
  const alphabet = ["a", "Z", "0", "-", "é", "ü", "😀", "中", "\u0000"];
  const keys = ["", "a", "ab", "abc", "abcd", "abcde"];
  for (let i = 0; i < 3_000; i++) keys.push(Array.from({ length: Math.floor(next() * 40) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(""));
  const differ = keys.filter((key) => toPositive(murmur2(key)) !== toPositive(kafkajsMurmur2(key)));
  expect(differ).toEqual([]);
});

/**
 * The array literals the Postgres provider writes itself (array-literal.ts)
 * reach the server as the values they were made from: every text survives,
 * `NULL` and the empty string included, and null stays SQL NULL.
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import pg from "pg"
import { numberArray, textArray } from "../src/storage/postgres/array-literal.js"
import { connectionString, postgresSkipReason } from "./helpers/postgres.js"

const skip = await postgresSkipReason()

const AWKWARD_TEXTS = [
  "",
  "NULL",
  "null",
  "plain",
  'quote " inside',
  "back\\slash",
  '\\"',
  "ends with \\",
  "{braces},commas",
  "  spaced  ",
  "line\nbreak\ttab",
  "ünïcödé 😀",
  "'single'",
  '{"json":[1,"two",null]}',
]

describe("Postgres array literals", () => {
  it("quotes every text element and writes null as NULL", () => {
    assert.equal(textArray([]), "{}")
    assert.equal(textArray(["a", null, undefined, "NULL"]), '{"a",NULL,NULL,"NULL"}')
    assert.equal(textArray(['a"b', "c\\d"]), '{"a\\"b","c\\\\d"}')
    assert.equal(numberArray([1, null, -2, 1796112448235, undefined]), "{1,NULL,-2,1796112448235,NULL}")
    assert.equal(numberArray([]), "{}")
  })

  describe("read back by the server", { skip }, () => {
    const client = new pg.Client({ connectionString })
    before(() => client.connect())
    after(() => client.end())

    it("text[]: each element as written, nulls as null", async () => {
      const values = [...AWKWARD_TEXTS, null]
      const { rows } = await client.query<{ a: Array<string | null> }>("SELECT $1::text[] AS a", [textArray(values)])
      assert.deepEqual(rows[0]?.a, values)
    })

    it("text[] through unnest keeps order and count", async () => {
      const { rows } = await client.query<{ v: string | null; n: string }>(
        "SELECT v, n FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
        [textArray([...AWKWARD_TEXTS, null])],
      )
      assert.deepEqual(rows.map((r) => r.v), [...AWKWARD_TEXTS, null])
    })

    it("bigint[] and int[]: numbers and nulls", async () => {
      const big = [0, -1, 1796112448235, Number.MAX_SAFE_INTEGER, null]
      const small = [0, 7, -3, null]
      const { rows } = await client.query<{ b: Array<string | null>; i: Array<number | null> }>("SELECT $1::bigint[] AS b, $2::int[] AS i", [
        numberArray(big),
        numberArray(small),
      ])
      assert.deepEqual(rows[0]?.b, big.map((v) => (v === null ? null : String(v))))
      assert.deepEqual(rows[0]?.i, small)
    })

    it("a fractional number for a bigint is refused by the server, as before", async () => {
      await assert.rejects(client.query("SELECT $1::bigint[] AS b", [numberArray([1.5])]), /invalid input syntax for type bigint/)
    })
  })
})

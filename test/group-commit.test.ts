import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { GroupCommitter } from "../src/group-commit.js"

/** A commit function whose calls stay open until the test settles them. */
function controlledCommit() {
  const calls: Array<{ items: string[]; settle(error?: Error): void }> = []
  let open = 0
  let maxOpen = 0
  const commit = (items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      open++
      maxOpen = Math.max(maxOpen, open)
      calls.push({
        items,
        settle: (error) => {
          open--
          if (error) reject(error)
          else resolve(items.map((item) => `ok:${item}`))
        },
      })
    })
  return { commit, calls, maxOpen: () => maxOpen }
}

const turn = () => new Promise((resolve) => setImmediate(resolve))
const keyOf = (item: string) => item.split(":")[0]!

describe("GroupCommitter", { timeout: 10_000 }, () => {
  it("commits what arrives together in one call and resolves each caller only after it", async () => {
    const c = controlledCommit()
    const committer = new GroupCommitter(c.commit)
    const resolved: string[] = []
    const all = ["a", "b", "c"].map((item) => committer.submit(item).then((out) => resolved.push(out)))
    await turn()
    assert.deepEqual(c.calls.map((call) => call.items), [["a", "b", "c"]])
    await turn()
    assert.deepEqual(resolved, [], "nothing is acknowledged before its commit returns")
    assert.equal(committer.idle, false)
    c.calls[0]!.settle()
    await Promise.all(all)
    assert.deepEqual(resolved, ["ok:a", "ok:b", "ok:c"])
    assert.equal(committer.idle, true)
  })

  it("with one batch in flight, what arrives meanwhile forms the next batch", async () => {
    const c = controlledCommit()
    const committer = new GroupCommitter(c.commit)
    const first = committer.submit("a")
    await turn()
    const later = [committer.submit("b"), committer.submit("c")]
    await turn()
    assert.equal(c.calls.length, 1, "no second batch while the first is in flight")
    c.calls[0]!.settle()
    await first
    await turn()
    assert.deepEqual(c.calls.map((call) => call.items), [["a"], ["b", "c"]])
    c.calls[1]!.settle()
    assert.deepEqual(await Promise.all(later), ["ok:b", "ok:c"])
  })

  it("rejects every caller of a failed batch and goes on with the next", async () => {
    const c = controlledCommit()
    const committer = new GroupCommitter(c.commit)
    const failed = [committer.submit("a"), committer.submit("b")]
    await turn()
    const next = committer.submit("c")
    c.calls[0]!.settle(new Error("disk full"))
    for (const p of failed) await assert.rejects(p, /disk full/)
    await turn()
    c.calls[1]!.settle()
    assert.equal(await next, "ok:c")
  })

  it("cuts batches at maxBatch", async () => {
    const c = controlledCommit()
    const committer = new GroupCommitter(c.commit, { maxBatch: 2 })
    const all = ["a", "b", "c"].map((item) => committer.submit(item))
    await turn()
    c.calls[0]!.settle()
    await turn()
    await turn()
    c.calls[1]!.settle()
    await Promise.all(all)
    assert.deepEqual(c.calls.map((call) => call.items), [["a", "b"], ["c"]])
  })

  it("keeps up to maxInFlight batches in flight, never two holding the same key, and commits each key's writes in order", async () => {
    const c = controlledCommit()
    const committer = new GroupCommitter(c.commit, { maxInFlight: 2, keyOf })
    const outputs: Array<Promise<string>> = []
    outputs.push(committer.submit("w1:0"), committer.submit("w2:0"))
    await turn()
    // Batch 1 in flight with w1 and w2; w1's next write must wait for it, w3's need not.
    outputs.push(committer.submit("w1:1"), committer.submit("w3:0"))
    await turn()
    assert.deepEqual(c.calls.map((call) => call.items), [["w1:0", "w2:0"], ["w3:0"]])
    outputs.push(committer.submit("w4:0"))
    await turn()
    assert.equal(c.calls.length, 2, "a third batch waits while two are in flight")
    c.calls[0]!.settle()
    await outputs[0]
    await turn()
    assert.deepEqual(c.calls[2]!.items, ["w1:1", "w4:0"], "w1's later write goes once its earlier batch has settled, in order")
    c.calls[1]!.settle()
    c.calls[2]!.settle()
    assert.deepEqual(await Promise.all(outputs), ["ok:w1:0", "ok:w2:0", "ok:w1:1", "ok:w3:0", "ok:w4:0"])
    assert.equal(c.maxOpen(), 2)
    assert.equal(committer.idle, true)
  })

  it("with many writers and random commit times, a key is never in two batches in flight and its writes commit in order", async () => {
    const inFlightKeys = new Set<string>()
    const committed = new Map<string, number[]>()
    let open = 0
    let maxOpen = 0
    const commit = async (items: string[]) => {
      open++
      maxOpen = Math.max(maxOpen, open)
      const keys = new Set(items.map(keyOf))
      for (const key of keys) {
        assert.ok(!inFlightKeys.has(key), `key ${key} is in two batches in flight`)
        inFlightKeys.add(key)
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3))
      for (const item of items) {
        const [key, n] = item.split(":")
        const list = committed.get(key!) ?? []
        list.push(Number(n))
        committed.set(key!, list)
      }
      for (const key of keys) inFlightKeys.delete(key)
      open--
      return items
    }
    const committer = new GroupCommitter(commit, { maxInFlight: 3, maxBatch: 7, keyOf })
    // 20 writers, each submitting its next write only after the previous one settled (as executions do), plus bursts.
    const writer = async (w: number) => {
      for (let n = 0; n < 15; n++) await committer.submit(`w${w}:${n}`)
    }
    const bursts = Array.from({ length: 30 }, (_, n) => committer.submit(`burst:${n}`))
    await Promise.all([...Array.from({ length: 20 }, (_, w) => writer(w)), ...bursts])
    assert.equal(maxOpen, 3)
    for (const [key, list] of committed) {
      assert.deepEqual(list, [...list].sort((a, b) => a - b), `${key} committed out of order`)
      assert.equal(list.length, key === "burst" ? 30 : 15)
    }
  })

  it("refuses a bad maxInFlight, and more than one in flight without keyOf", () => {
    const commit = async (items: string[]) => items
    assert.throws(() => new GroupCommitter(commit, { maxInFlight: 0 }), /maxInFlight must be an integer >= 1/)
    assert.throws(() => new GroupCommitter(commit, { maxInFlight: 1.5 }), /maxInFlight/)
    assert.throws(() => new GroupCommitter(commit, { maxInFlight: 2 }), /keyOf is required/)
  })
})

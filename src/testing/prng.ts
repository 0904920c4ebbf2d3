/**
 * A small seedable PRNG for `FaultInjectingStorage`: the same seed gives the
 * same faults.
 *
 * @module
 */

/** mulberry32: a small, fast, seedable PRNG; plenty for choosing faults. Returns numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = Math.trunc(seed) >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

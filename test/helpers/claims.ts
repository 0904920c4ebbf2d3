/**
 * A record of a store's claims: wraps `claimWorkflows` so that each call's
 * limit and how many workflows it returned are kept, in order.
 */
import type { ClaimRequest, StorageProvider } from "../../src/storage/provider.js"

/** One claim: the limit asked for and how many workflows came back. */
export interface ClaimRecord {
  limit: number
  got: number
}

/** Records every claim made on `storage` from now on; returns the (growing) list. */
export function recordClaims(storage: StorageProvider): ClaimRecord[] {
  const claims: ClaimRecord[] = []
  const claim = storage.claimWorkflows.bind(storage)
  storage.claimWorkflows = async (request: ClaimRequest) => {
    const got = await claim(request)
    claims.push({ limit: request.limit, got: got.length })
    return got
  }
  return claims
}

/** How many workflows the recorded claims returned in all. */
export function claimedCount(claims: readonly ClaimRecord[]): number {
  return claims.reduce((n, c) => n + c.got, 0)
}

/**
 * What every capability's part of the conformance suite starts with: a
 * provider of the store under test, or the test skipped when the provider
 * does not declare that capability.
 *
 * @module
 */
import type { TestContext } from "node:test"
import { capabilitiesOf } from "../storage/capabilities.js"
import type { StorageCapability, StorageProvider } from "../storage/provider.js"

/** Returns a function that opens a provider for a test, or skips the test (returning `undefined`) without `capability`. */
export function openDeclaring(
  openProvider: () => Promise<StorageProvider>,
  capability: StorageCapability,
): (t: TestContext) => Promise<StorageProvider | undefined> {
  return async (t) => {
    const provider = await openProvider()
    if (capabilitiesOf(provider).has(capability)) return provider
    t.skip(`the provider does not declare the ${capability} capability`)
    return undefined
  }
}

/**
 * Which parts of a {@link WorkflowFilter} a provider must honour, so a
 * provider can keep its plain ID-ordered listing for the filters runners use.
 *
 * @module
 */
import type { WorkflowFilter } from "./inspection.js"

/** Whether `filter` uses a field of the `inspection` capability (anything beyond status, afterID and limit). */
export function usesInspectionFields(filter: WorkflowFilter): boolean {
  return (
    filter.order === "newest" ||
    filter.runner !== undefined ||
    filter.createdAfter !== undefined ||
    filter.createdBefore !== undefined ||
    filter.idPrefix !== undefined
  )
}

/**
 * `durabletasks/dashboard`: the web dashboard as an embeddable request
 * handler. See the README, Dashboard.
 *
 * @module
 */
export { createDashboard, type AuthorizeResult, type DashboardHandler, type DashboardOptions } from "./handler.js"

/**
 * durabletasks: durable execution for Node.js.
 *
 * @module
 */
export { WorkflowRunner } from "./runner.js"
export type { StopOptions, WorkflowRunnerOptions } from "./runner.js"
export { WorkflowClient } from "./client.js"
export type {
  AnyTaskRunner,
  CloseOptions,
  MemberSpec,
  ListEventsFilter,
  NamedStepSpec,
  NamedTaskSpec,
  StepSpec,
  TaskSpec,
  WorkflowClientOptions,
  WorkflowHandle,
  WorkflowInput,
} from "./client.js"
export type { DeleteEndedOptions, ListWorkflowsFilter, WorkflowStatsInfo, WorkflowStatsOptions } from "./inspection.js"
export type { ThroughputInterval, WorkflowThroughput, WorkflowThroughputOptions } from "./throughput.js"
export { ExpectedError, defineTask } from "./task.js"
export type {
  AbortScope,
  RetryPolicy,
  SpawnWorkflowInput,
  SpawnedWorkflow,
  TaskExecutionContext,
  TaskExecutionResult,
  TaskRunner,
} from "./task.js"
export { RunnerStoppedError, SerializationError, StorageError, ValidationError } from "./errors.js"
export type { Logger } from "./logger.js"
export type { RunnerEventMap, TaskEventBase } from "./events.js"
export type {
  ChildWorkflowResult,
  ChildWorkflowStep,
  Duration,
  EventInfo,
  ParallelStep,
  ReceivedEvent,
  SendEventInput,
  SentEvent,
  SleepStep,
  WaitForEventResult,
  WaitForEventStep,
} from "./steps/spec.js"
export type { AttemptInfo, PendingState, TaskInfo, WorkflowInfo, WorkflowSummary } from "./info.js"
export { MAX_ATTEMPTS_KEPT, taskAttempts } from "./attempts.js"
export type { AttemptOutcome, TaskAttempt } from "./attempts.js"
export type { EndedStatus, StepKind, StorageProvider, TaskStatus, WorkflowStatus } from "./storage/provider.js"
export type { ScheduleDefinition } from "./schedules/definition.js"
export type { ScheduleDeclared, ScheduleInfo } from "./schedules/info.js"
export type { ListSchedulesFilter } from "./schedules/operations.js"
export type { OverlapPolicy, ScheduleDeclareOutcome } from "./storage/schedule-store.js"

export { MESSAGES, MESSAGE_NAMES, DEFAULT_CALL_TIMEOUT_MS, idempotencyKey, specOf, timeoutOf, undoneBy } from './messages.ts';
export type { AnswerOf, Idempotency, MessageName, MessageSpec, RequestOf, StreamAnswerName } from './messages.ts';
export { PROTOCOL_VERSION, protocolAccepted } from './version.ts';
export {
  OK,
  artifactReportSchema,
  colorStatsSchema,
  edgePairSchema,
  healthResultSchema,
  heldCertificateSchema,
  instanceReportSchema,
  instanceStatsSchema,
  localRollbackSchema,
  maintenanceSchema,
  okSchema,
  slotReportSchema,
  slotSpecSchema,
  testResultSchema,
  testRunSchema,
} from './schemas.ts';
export type {
  ArtifactReport,
  ColorStats,
  EdgePair,
  HealthCheckSeen,
  HeldCertificate,
  HealthResult,
  InstanceReport,
  InstanceStats,
  LocalRollback,
  Maintenance,
  SlotReport,
  SlotStartSpec,
  TestResult,
  TestRun,
} from './schemas.ts';
export { FrameDecoder, MAX_FRAME_BYTES, encodeFrame, frameSchema } from './frames.ts';
export type { AnswerFrame, CallFrame, Frame } from './frames.ts';
export { desiredAnswerSchema, desiredCertificateSchema, desiredInstanceSchema, desiredReleaseSchema, desiredStateSchema, judgeDesired } from './desired-state.ts';
export type { DesiredAnswer, DesiredCertificate, DesiredInstance, DesiredRelease, DesiredState } from './desired-state.ts';

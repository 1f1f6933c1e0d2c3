export { CutoverError, isCutoverError, invalidInput } from './errors.ts';
export type { ErrorCode, ErrorOptions, FieldIssue } from './errors.ts';
export { systemClock, ManualClock } from './clock.ts';
export type { Clock } from './clock.ts';
export { COLORS, otherColor, isColor } from './types.ts';
export type { Color, HealthSpec } from './types.ts';
export { parseDuration } from './duration.ts';

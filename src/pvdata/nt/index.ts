// Normative types (epics:nt/…): type builders, value helpers and tolerant readers.
// The small coercion helpers of common.ts (num, str, unwrap…) stay internal.
export {
  alarmT,
  timeT,
  displayT,
  controlT,
  enumT,
  valueAlarmT,
  valueAlarmTypeFor,
  AlarmSeverity,
  timeNow,
  timeFromDate,
  timeToDate,
  timeToSeconds,
  alarmOf,
  readTime,
  readAlarm,
  ntIs,
  type TimeStamp,
  type Alarm,
  type Typed,
} from './common.js';
export * from './ntscalar.js';
export * from './ntenum.js';
export * from './nttable.js';
export * from './nturi.js';
export * from './ntattribute.js';
export * from './ntndarray.js';

// Channel Access protocol constants (CA protocol 4.13): command codes, DBR type codes, status
// (ECA) codes, sizes of fixed fields, default ports. Numbers are the protocol's, so they are
// spelled out here once and named everywhere else.

/** Minor protocol revision we speak (4.13: zero element counts mean "the current length"). */
export const CA_MINOR_VERSION = 13;
/** Default TCP port of servers and UDP port of searches (EPICS_CA_SERVER_PORT). */
export const CA_SERVER_PORT = 5064;
/** Seconds between the POSIX epoch and the EPICS epoch (1990-01-01 00:00:00 UTC). */
export const EPICS_EPOCH_OFFSET = 631152000;

export const Cmd = {
  VERSION: 0,
  EVENT_ADD: 1,
  EVENT_CANCEL: 2,
  READ: 3,
  WRITE: 4,
  SNAPSHOT: 5,
  SEARCH: 6,
  BUILD: 7,
  EVENTS_OFF: 8,
  EVENTS_ON: 9,
  READ_SYNC: 10,
  ERROR: 11,
  CLEAR_CHANNEL: 12,
  RSRV_IS_UP: 13,
  NOT_FOUND: 14,
  READ_NOTIFY: 15,
  READ_BUILD: 16,
  REPEATER_CONFIRM: 17,
  CREATE_CHAN: 18,
  WRITE_NOTIFY: 19,
  CLIENT_NAME: 20,
  HOST_NAME: 21,
  ACCESS_RIGHTS: 22,
  ECHO: 23,
  REPEATER_REGISTER: 24,
  SIGNAL: 25,
  CREATE_CH_FAIL: 26,
  SERVER_DISCONN: 27,
} as const;

/** Name of a command code, for messages. */
export function cmdName(cmd: number): string {
  for (const [k, v] of Object.entries(Cmd)) if (v === cmd) return k;
  return `command ${cmd}`;
}

/** SEARCH's data type field: whether a server without the name should say so. */
export const SearchReply = { DO_REPLY: 10, DONT_REPLY: 5 } as const;
/** VERSION's data type field on UDP: the cid field carries a sequence number. */
export const SEQUENCE_NO_VALID = 1;
/** ACCESS_RIGHTS bits. */
export const AccessRights = { READ: 1, WRITE: 2 } as const;
/** EVENT_ADD mask bits (what changes a subscription wants). */
export const EventMask = { VALUE: 1, LOG: 2, ALARM: 4, PROPERTY: 8 } as const;
/** Search reply address field meaning "the address the reply came from". */
export const ADDRESS_OF_SENDER = 0xffffffff;

/** DBR base types; a DBR type code is base + 7 × class. */
export const DbrBase = { STRING: 0, SHORT: 1, FLOAT: 2, ENUM: 3, CHAR: 4, LONG: 5, DOUBLE: 6 } as const;
export type DbrBaseType = (typeof DbrBase)[keyof typeof DbrBase];
/** Metadata classes: plain value, +status, +time stamp, +graphic limits, +control limits. */
export const DbrClass = { PLAIN: 0, STS: 1, TIME: 2, GR: 3, CTRL: 4 } as const;
export type DbrClassType = (typeof DbrClass)[keyof typeof DbrClass];
/** Highest DBR code we encode and decode (DBR_CTRL_DOUBLE). */
export const LAST_DBR = 34;

export const BASE_NAMES = ['STRING', 'SHORT', 'FLOAT', 'ENUM', 'CHAR', 'LONG', 'DOUBLE'] as const;
const CLASS_NAMES = ['', 'STS_', 'TIME_', 'GR_', 'CTRL_'] as const;

export function dbrCode(base: DbrBaseType, cls: DbrClassType): number {
  return base + 7 * cls;
}

/** `DBR_TIME_DOUBLE` for 20. */
export function dbrName(code: number): string {
  if (!Number.isInteger(code) || code < 0 || code > LAST_DBR) return `DBR type ${code}`;
  return `DBR_${CLASS_NAMES[Math.floor(code / 7)]}${BASE_NAMES[code % 7]}`;
}

/** Fixed field sizes of the DBR structures (terminating NUL included). */
export const MAX_STRING_SIZE = 40;
export const MAX_UNITS_SIZE = 8;
export const MAX_ENUM_STRING_SIZE = 26;
export const MAX_ENUM_STATES = 16;

/**
 * Status codes (ECA_*): message number << 3 | severity. Replies carry them in the header's cid
 * field; ERROR messages in the available field.
 */
export const Eca = {
  NORMAL: 1,
  ALLOCMEM: 48,
  TOLARGE: 72,
  TIMEOUT: 80,
  BADTYPE: 114,
  INTERNAL: 142,
  GETFAIL: 152,
  PUTFAIL: 160,
  BADCOUNT: 176,
  BADSTR: 186,
  DISCONN: 192,
  EVDISALLOW: 210,
  BADMONID: 242,
  BADMASK: 330,
  NORDACCESS: 368,
  NOWTACCESS: 376,
  NOCONVERT: 400,
  BADCHID: 410,
  UNAVAILINSERV: 432,
} as const;

const ECA_TEXT: Record<number, string> = {
  [Eca.NORMAL]: 'success',
  [Eca.ALLOCMEM]: 'server out of memory',
  [Eca.TOLARGE]: 'transfer larger than the array size limit',
  [Eca.TIMEOUT]: 'time-out',
  [Eca.BADTYPE]: 'invalid DBR type',
  [Eca.INTERNAL]: 'internal server failure',
  [Eca.GETFAIL]: 'read failed',
  [Eca.PUTFAIL]: 'write failed',
  [Eca.BADCOUNT]: 'element count out of range',
  [Eca.BADSTR]: 'invalid string',
  [Eca.DISCONN]: 'virtual circuit disconnected',
  [Eca.EVDISALLOW]: 'subscriptions not allowed',
  [Eca.BADMONID]: 'unknown subscription id',
  [Eca.BADMASK]: 'invalid event mask',
  [Eca.NORDACCESS]: 'no read access',
  [Eca.NOWTACCESS]: 'no write access',
  [Eca.NOCONVERT]: 'no conversion between the client and server types',
  [Eca.BADCHID]: 'unknown channel id',
  [Eca.UNAVAILINSERV]: 'not supported by the server',
};

/** Short text of a status code (ours; CA libraries word them differently). */
export function ecaMessage(status: number): string {
  return ECA_TEXT[status] ?? `CA status ${status}`;
}

/** The alarm status names of EPICS records (epicsAlarmCondition), indexed by the CA status. */
export const ALARM_CONDITIONS = [
  'NO_ALARM',
  'READ',
  'WRITE',
  'HIHI',
  'HIGH',
  'LOLO',
  'LOW',
  'STATE',
  'COS',
  'COMM',
  'TIMEOUT',
  'HWLIMIT',
  'CALC',
  'SCAN',
  'LINK',
  'SOFT',
  'BAD_SUB',
  'UDF',
  'DISABLE',
  'SIMM',
  'READ_ACCESS',
  'WRITE_ACCESS',
] as const;

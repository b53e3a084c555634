// pvAccess message header and command codes (Protocol-Messages "Message header" and command table).

export const PVA_MAGIC = 0xca;
export const PVA_VERSION = 2;
export const HEADER_SIZE = 8;
export const DEFAULT_SERVER_PORT = 5075;
export const DEFAULT_BROADCAST_PORT = 5076;
/** Multicast group used to fan unicast searches out to every server on one host. */
export const LOCAL_MCAST_GROUP = '224.0.0.128';

export const Flags = {
  CONTROL: 0x01,
  SEGMENT_MASK: 0x30,
  SEGMENT_NONE: 0x00,
  SEGMENT_FIRST: 0x10,
  SEGMENT_LAST: 0x20,
  SEGMENT_MIDDLE: 0x30,
  FROM_SERVER: 0x40,
  BIG_ENDIAN: 0x80,
} as const;

export const Cmd = {
  BEACON: 0,
  CONNECTION_VALIDATION: 1,
  ECHO: 2,
  SEARCH: 3,
  SEARCH_RESPONSE: 4,
  AUTHNZ: 5,
  ACL_CHANGE: 6,
  CREATE_CHANNEL: 7,
  DESTROY_CHANNEL: 8,
  CONNECTION_VALIDATED: 9,
  GET: 10,
  PUT: 11,
  PUT_GET: 12,
  MONITOR: 13,
  ARRAY: 14,
  DESTROY_REQUEST: 15,
  PROCESS: 16,
  GET_FIELD: 17,
  MESSAGE: 18,
  MULTIPLE_DATA: 19,
  RPC: 20,
  CANCEL_REQUEST: 21,
  ORIGIN_TAG: 22,
} as const;

export const CMD_NAMES: Record<number, string> = Object.fromEntries(Object.entries(Cmd).map(([k, v]) => [v, k]));

export const Ctrl = {
  SET_MARKER: 0,
  ACK_MARKER: 1,
  SET_BYTE_ORDER: 2,
  ECHO_REQUEST: 3,
  ECHO_RESPONSE: 4,
} as const;

/** Operation subcommand bits. */
export const Sub = {
  DEFAULT: 0x00,
  INIT: 0x08,
  DESTROY: 0x10,
  GET: 0x40,
  /** Monitor: pipeline ack; put-get: "get put". */
  ACK: 0x80,
  MONITOR_START: 0x44,
  MONITOR_STOP: 0x04,
  PIPELINE_INIT: 0x88,
} as const;

/** Message severities for MESSAGE (and Status types). */
export const Severity = { OK: 0, WARNING: 1, ERROR: 2, FATAL: 3 } as const;

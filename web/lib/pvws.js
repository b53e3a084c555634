// PV Web Socket (PVWS) messages: decoding the server's updates into current PV states. The first
// update of a PV carries its metadata, later ones only what changed, so a state is the merge of
// all updates so far. Arrays come base64-encoded (little endian) in b64dbl/b64flt/b64int/b64srt/b64byt;
// structure values (vtype VStructure) come whole first, then only changed leaves, same nesting.

const B64_ARRAYS = {
  b64dbl: Float64Array,
  b64flt: Float32Array,
  b64int: Int32Array,
  b64srt: Int16Array,
  b64sht: Int16Array,
  b64byt: Int8Array,
};

/** Bytes of a base64 text (atob exists in browsers and Node 16+). */
export function base64Bytes(text) {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/** The array of an update's b64 field, or undefined when it has none. */
export function decodeArray(msg) {
  for (const [key, Array_] of Object.entries(B64_ARRAYS)) {
    if (typeof msg[key] !== 'string') continue;
    const bytes = base64Bytes(msg[key]);
    const size = Array_.BYTES_PER_ELEMENT;
    // A fresh, aligned buffer: the decoded bytes are copied once.
    return new Array_(bytes.buffer, 0, Math.floor(bytes.length / size));
  }
  return undefined;
}

function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge of a structure's changed leaves into its previous value (new objects; inputs kept). */
export function mergeStructure(prev, changes) {
  if (!isPlainObject(prev) || !isPlainObject(changes)) return changes;
  const out = { ...prev };
  for (const [k, v] of Object.entries(changes)) out[k] = isPlainObject(v) && isPlainObject(prev[k]) ? mergeStructure(prev[k], v) : v;
  return out;
}

/**
 * The PV state after one update message. The state keeps every field seen (metadata from the
 * first update), `value` as a number, string, typed array or structure object, and `updates`,
 * the count of updates merged.
 */
export function applyUpdate(state, msg) {
  const next = { ...(state ?? {}), updates: (state?.updates ?? 0) + 1 };
  for (const [k, v] of Object.entries(msg)) {
    if (k === 'type' || k in B64_ARRAYS) continue;
    if (k === 'value' && (msg.vtype ?? next.vtype) === 'VStructure') next.value = mergeStructure(state?.value, v);
    else next[k] = v;
  }
  const array = decodeArray(msg);
  if (array) next.value = array;
  return next;
}

/** Read a dotted path ("processorStats.nProcessed") from a structure value. */
export function field(value, path) {
  let v = value;
  for (const part of path.split('.')) {
    if (!isPlainObject(v)) return undefined;
    v = v[part];
  }
  return v;
}

/**
 * What kind of panel a PV's structure value calls for: 'control' (a consumer's or collector's
 * control PV: command, args and statusMessage), 'status' (statistics groups), else 'value'.
 */
export function structureKind(value) {
  if (!isPlainObject(value)) return 'value';
  if ('command' in value && 'statusMessage' in value) return 'control';
  if (Object.values(value).some((g) => isPlainObject(g) && Object.keys(g).some((k) => /Rate$|^n[A-Z]/.test(k)))) return 'status';
  return 'value';
}

/**
 * The series a status PV's value offers for plotting: rates (…Rate), counters of losses
 * (nMissed, nOverruns, nErrors) and queue fill (queueStats.nQueued), in groups and in groups of
 * groups (a collector's producerStats_1.receiverStats), as
 * {key: "group.field", group, name, kind: 'rate'|'missed'|'queue'}.
 * @returns {{ key: string, group: string, name: string, kind: string }[]}
 */
export function statusSeries(value, prefix = '', depth = 0) {
  const series = [];
  if (!isPlainObject(value)) return series;
  for (const [name, v] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isPlainObject(v)) {
      if (depth < 2) series.push(...statusSeries(v, key, depth + 1));
      continue;
    }
    if (typeof v !== 'number' || depth === 0) continue;
    const group = prefix;
    let kind;
    if (/Rate$/.test(name) && !/^(error|rejected)Rate$/.test(name)) kind = 'rate';
    else if (/^n(Missed|Overruns|Errors)$/.test(name) && !/queueStats$/.test(group)) kind = 'missed';
    else if (name === 'nQueued') kind = 'queue';
    if (kind) series.push({ key, group, name, kind });
  }
  return series;
}

// NTNDArray, the detector-frame type. Layout and field order exactly as normativeTypesCPP's
// NTNDArrayBuilder (which areaDetector's NDPluginPva uses, and which the PVXS-served frames in our
// captures match byte for byte): value union of 11 arrays, codec, compressedSize,
// uncompressedSize, dimension, uniqueId, dataTimeStamp, attribute, then the optional descriptor,
// alarm, timeStamp, display. The reader is name-based and accepts the variants of reference §4.
import { InvalidArgumentError } from '../../errors.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../types.js';
import { SCALAR_TYPES, t } from '../types.js';
import { ELEMENT_SIZE, scalarTypeOfArray, type PVAny, type PVStructure, type PVTypedArray, type PVValue } from '../values.js';
import {
  alarmT,
  anyOf,
  displayT,
  flagKey,
  isPVAny,
  isStruct,
  ntIs,
  num,
  readTime,
  str,
  timeNow,
  timeT,
  unwrap,
  valueOf,
  type Alarm,
  type TimeStamp,
  type Typed,
} from './common.js';
import { ntattribute } from './ntattribute.js';

const ID = 'epics:nt/NTNDArray:1.0';
/** Element types of the value union, in its member order (pvData ScalarType order minus string). */
const VALUE_TYPES: readonly ScalarType[] = SCALAR_TYPES.filter((s) => s !== 'string');

export const ndValueT = t.union(VALUE_TYPES.map((s) => [`${s}Value`, t.array(s)] as const));
export const codecT = t.struct({ name: t.string, parameters: t.any }, 'codec_t');
export const dimensionT = t.struct({ size: t.int, offset: t.int, fullSize: t.int, binning: t.int, reverse: t.boolean }, 'dimension_t');

/** areaDetector NDColorMode_t. */
export const ColorMode = { Mono: 0, Bayer: 1, RGB1: 2, RGB2: 3, RGB3: 4, YUV444: 5, YUV422: 6, YUV411: 7 } as const;

/** 'ubyteValue' → 'ubyte' (undefined for anything else). */
export function dataTypeOfUnionField(field: string): ScalarType | undefined {
  if (!field.endsWith('Value')) return undefined;
  const st = field.slice(0, -5) as ScalarType;
  return VALUE_TYPES.includes(st) ? st : undefined;
}
/** 'ubyte' → 'ubyteValue'. */
export function unionFieldOfDataType(type: ScalarType): string {
  if (!VALUE_TYPES.includes(type)) throw new InvalidArgumentError(`NTNDArray has no ${type} data`);
  return `${type}Value`;
}

export interface NTNDArrayOptions {
  /** Each default true, as areaDetector publishes them. */
  descriptor?: boolean;
  alarm?: boolean;
  timeStamp?: boolean;
  display?: boolean;
}

export interface NDAttributeInit {
  name: string;
  /** A plain value (type inferred) or an already typed `{ type, value }`. */
  value: PVValue | PVAny;
  descriptor?: string;
  sourceType?: number;
  source?: string;
}

export interface NTNDArrayInit {
  /** Pixels, flattened, x fastest. Referenced, never copied. */
  data: PVTypedArray | boolean[];
  /** Sizes, fastest-varying first (areaDetector: [x, y] or [3, x, y] for RGB1). */
  dims: number[];
  uniqueId: number;
  dataTimeStamp?: TimeStamp;
  /** Defaults to dataTimeStamp. */
  timeStamp?: TimeStamp;
  attributes?: NDAttributeInit[];
  /** Adds (or replaces) the int attribute `ColorMode`. */
  colorMode?: number;
  /** Compressed data: the codec name and the element type of the decoded array. */
  codec?: string | { name: string; uncompressedType?: ScalarType; parameters?: PVValue | PVAny };
  descriptor?: string;
  alarm?: Alarm;
}

export interface NTNDArrayData {
  data: PVArrayLike | null;
  dtype: ScalarType | null;
  dims: number[];
  uniqueId: number;
  colorMode: number | undefined;
  /** '' = raw. */
  codec: string;
  /** Element type after decompression (codec.parameters as areaDetector sets it), else dtype. */
  uncompressedType: ScalarType | null;
  compressedSize: number;
  uncompressedSize: number;
  attributes: Map<string, PVValue>;
  dataTimeStamp: TimeStamp | undefined;
  timeStamp: TimeStamp | undefined;
}
type PVArrayLike = PVTypedArray | boolean[];

const cache = new Map<string, StructureDesc>();

export const ntndarray = {
  id: ID,
  type(opts: NTNDArrayOptions = {}): StructureDesc {
    const flags = [opts.descriptor ?? true, opts.alarm ?? true, opts.timeStamp ?? true, opts.display ?? true];
    const key = flagKey(flags);
    let type = cache.get(key);
    if (!type) {
      const f: [string, FieldDesc][] = [
        ['value', ndValueT],
        ['codec', codecT],
        ['compressedSize', t.long],
        ['uncompressedSize', t.long],
        ['dimension', t.structArray(dimensionT)],
        ['uniqueId', t.int],
        ['dataTimeStamp', timeT],
        ['attribute', t.structArray(ntattribute.ndType())],
      ];
      if (flags[0]) f.push(['descriptor', t.string]);
      if (flags[1]) f.push(['alarm', alarmT]);
      if (flags[2]) f.push(['timeStamp', timeT]);
      if (flags[3]) f.push(['display', displayT]);
      cache.set(key, (type = t.struct(f, ID)));
    }
    return type;
  },

  /** A frame value of `type(opts)`, sizes and dimension entries filled in. */
  build(init: NTNDArrayInit, opts: NTNDArrayOptions = {}): PVStructure {
    const { data, dims } = init;
    const dtype = scalarTypeOfArray(data) ?? (Array.isArray(data) && data.every((b) => typeof b === 'boolean') ? 'boolean' : undefined);
    if (!dtype) throw new InvalidArgumentError('NTNDArray data must be a TypedArray or boolean[]');
    const codec = typeof init.codec === 'string' ? { name: init.codec } : (init.codec ?? { name: '' });
    const utype = codec.uncompressedType ?? dtype;
    let parameters: PVAny | null = null;
    if (codec.parameters !== undefined) parameters = anyOf(codec.parameters);
    else if (codec.uncompressedType) parameters = { type: t.int, value: SCALAR_TYPES.indexOf(codec.uncompressedType) };
    const count = dims.reduce((a, b) => a * b, 1);
    const attributes = (init.attributes ?? []).filter((a) => init.colorMode === undefined || a.name !== 'ColorMode');
    if (init.colorMode !== undefined) {
      attributes.push({ name: 'ColorMode', value: { type: t.int, value: init.colorMode }, descriptor: 'Color mode', source: 'Driver' });
    }
    const dataTimeStamp = init.dataTimeStamp ?? timeNow();
    return valueOf(ntndarray.type(opts), {
      value: { field: `${dtype}Value`, value: data },
      codec: { name: codec.name, parameters },
      compressedSize: BigInt(data.length * ELEMENT_SIZE[dtype]),
      uncompressedSize: dims.length ? BigInt(count * ELEMENT_SIZE[utype]) : 0n,
      dimension: dims.map((size) => ({ size, offset: 0, fullSize: size, binning: 1, reverse: false })),
      uniqueId: init.uniqueId,
      dataTimeStamp,
      attribute: attributes.map((a) => ({
        name: a.name,
        value: anyOf(a.value),
        descriptor: a.descriptor ?? '',
        sourceType: a.sourceType ?? 0,
        source: a.source ?? '',
      })),
      descriptor: init.descriptor ?? '',
      alarm: init.alarm ?? { severity: 0, status: 0, message: '' },
      timeStamp: init.timeStamp ?? { ...dataTimeStamp },
    });
  },

  create(init: NTNDArrayInit, opts: NTNDArrayOptions = {}): Typed {
    return { type: ntndarray.type(opts), value: ntndarray.build(init, opts) };
  },

  is(desc: FieldDesc | null | undefined): boolean {
    return ntIs(desc, 'NTNDArray');
  },

  read(v: PVStructure | null | undefined): NTNDArrayData {
    const o = isStruct(v) ? v : {};
    let data: PVArrayLike | null = null;
    let dtype: ScalarType | null = null;
    const raw = o['value'];
    if (isPVAny(raw)) {
      // value declared as `any` (QSRV group image)
      if (raw.type.kind === 'scalarArray') dtype = raw.type.type;
      data = asArray(raw.value);
    } else if (isStruct(raw) && typeof raw['field'] === 'string') {
      dtype = dataTypeOfUnionField(raw['field']) ?? null;
      data = asArray(raw['value']);
    } else {
      data = asArray(raw);
    }
    if (data && !dtype) dtype = scalarTypeOfArray(data) ?? (Array.isArray(data) ? 'boolean' : null);

    const attributes = new Map<string, PVValue>();
    if (Array.isArray(o['attribute'])) {
      for (const a of o['attribute'] as unknown[]) {
        if (isStruct(a) && typeof a['name'] === 'string') attributes.set(a['name'], (unwrap(a['value']) ?? null) as PVValue);
      }
    }
    const cm = attributes.get('ColorMode');
    const codec = isStruct(o['codec']) ? (o['codec'] as PVStructure) : {};
    const param = unwrap(codec['parameters']);
    const utype = typeof param === 'number' && param >= 0 && param < VALUE_TYPES.length ? (SCALAR_TYPES[param] as ScalarType) : null;
    return {
      data,
      dtype,
      dims: Array.isArray(o['dimension'])
        ? (o['dimension'] as unknown[])
            .filter(isStruct)
            .map((d) => num(d['size'], NaN))
            .filter(Number.isFinite)
        : [],
      uniqueId: num(o['uniqueId']),
      colorMode: colorModeOf(cm),
      codec: str(codec['name']),
      uncompressedType: utype ?? dtype,
      compressedSize: num(o['compressedSize']),
      uncompressedSize: num(o['uncompressedSize']),
      attributes,
      dataTimeStamp: readTime(o['dataTimeStamp']),
      timeStamp: readTime(o['timeStamp']),
    };
  },
};

function colorModeOf(v: PVValue | undefined): number | undefined {
  const n = num(v, NaN);
  return Number.isNaN(n) ? undefined : n;
}

function asArray(v: unknown): PVArrayLike | null {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return v as PVTypedArray;
  if (Array.isArray(v) && v.every((b) => typeof b === 'boolean')) return v as boolean[];
  return null;
}

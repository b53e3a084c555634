"""Read and write Sluice pipeline streams (docs/stream-format.md) in Python, with numpy only.

A stage in Python reads a stream on stdin and writes one on stdout:

    import sys
    from sluice_stream import StreamReader, StreamWriter

    out = StreamWriter(sys.stdout.buffer)
    for value, vtype, changed, overrun in StreamReader(sys.stdin.buffer).values():
        out.write(vtype, value, changed, overrun)
    out.end()

Types are tuples: ("scalar", T), ("array", T) with T one of boolean, byte, short, int, long,
ubyte, ushort, uint, ulong, float, double, string; ("bstring", bound); ("struct", id, members)
and ("union", id, members) with members a list of (name, type); ("any",); ("structarray", t);
("unionarray", t); ("anyarray",). Values: dicts for structures, numpy arrays for numeric and
boolean arrays, lists of str for string arrays, {"field": name, "value": v} (or None) for
unions, (type, value) (or None) for any. Changed and overrun marks are sets of field numbers.
"""

import json
import struct
import sys

import numpy as np

MAGIC = b"\x89SLS"
VERSION = 1
KIND_TYPE, KIND_VALUE, KIND_END, KIND_NOTE = 0x54, 0x56, 0x45, 0x6E

SCALAR_CODES = {
    "boolean": 0x00, "byte": 0x20, "short": 0x21, "int": 0x22, "long": 0x23,
    "ubyte": 0x24, "ushort": 0x25, "uint": 0x26, "ulong": 0x27,
    "float": 0x42, "double": 0x43, "string": 0x60,
}
CODE_SCALARS = {v: k for k, v in SCALAR_CODES.items()}
NUMPY = {
    "boolean": "?", "byte": "i1", "short": "i2", "int": "i4", "long": "i8",
    "ubyte": "u1", "ushort": "u2", "uint": "u4", "ulong": "u8", "float": "f4", "double": "f8",
}


class StreamError(Exception):
    """A wrong, truncated or hostile stream; the message names the cause."""


class _Reader:
    def __init__(self, data, le):
        self.b, self.at, self.e = memoryview(data), 0, "<" if le else ">"

    def need(self, n):
        if self.at + n > len(self.b):
            raise StreamError(f"{n} bytes needed, {len(self.b) - self.at} left")

    def take(self, n):
        self.need(n)
        v = self.b[self.at:self.at + n]
        self.at += n
        return v

    def u8(self):
        return self.take(1)[0]

    def num(self, fmt, n):
        return struct.unpack(self.e + fmt, self.take(n))[0]

    def size(self):
        b = self.u8()
        if b < 254:
            return b
        if b == 255:
            return -1
        n = self.num("i", 4)
        if n < 0:
            raise StreamError(f"negative size {n}")
        return n

    def count(self):
        n = self.size()
        if n < 0:
            raise StreamError("null size where a count was expected")
        self.need(n)  # every element takes a byte at least: a lying count stops here
        return n

    def string(self):
        n = self.size()
        return None if n < 0 else bytes(self.take(n)).decode("utf-8")

    def bitset(self):
        n = self.count()
        bits = set()
        for i, byte in enumerate(self.take(n)):
            for j in range(8):
                if byte >> j & 1:
                    bits.add(i * 8 + j)
        return bits

    def type(self, depth=0):
        if depth > 64:
            raise StreamError("type nesting deeper than 64")
        code = self.u8()
        if code == 0xFF:
            return None
        if code in (0x80, 0x81):
            tid = self.string()
            members = [(self.string(), self.type(depth + 1)) for _ in range(self.count())]
            return ("struct" if code == 0x80 else "union", tid, members)
        if code == 0x82:
            return ("any",)
        if code == 0x83:
            return ("bstring", self.size())
        if code == 0x88:
            return ("structarray", self.type(depth + 1))
        if code == 0x89:
            return ("unionarray", self.type(depth + 1))
        if code == 0x8A:
            return ("anyarray",)
        base, arr = code & ~0x18, code & 0x18
        if base not in CODE_SCALARS:
            raise StreamError(f"unknown type code 0x{code:02x}")
        if arr == 0:
            return ("scalar", CODE_SCALARS[base])
        if arr != 0x08:
            self.size()  # the bound of a bounded or fixed array: values are read the same way
        return ("array", CODE_SCALARS[base])

    def value(self, t):
        k = t[0]
        if k == "scalar":
            s = t[1]
            if s == "string":
                return self.string()
            v = np.frombuffer(self.take(np.dtype(NUMPY[s]).itemsize), dtype=np.dtype(NUMPY[s]).newbyteorder(self.e))[0]
            return bool(v) if s == "boolean" else v.item()
        if k == "bstring":
            return self.string()
        if k == "array":
            n = self.count()
            if t[1] == "string":
                return [self.string() for _ in range(n)]
            dt = np.dtype(NUMPY[t[1]]).newbyteorder(self.e)
            return np.frombuffer(self.take(n * dt.itemsize), dtype=dt)
        if k == "struct":
            return {name: self.value(mt) for name, mt in t[2]}
        if k == "union":
            i = self.size()
            if i < 0:
                return None
            if i >= len(t[2]):
                raise StreamError(f"union selector {i} out of range")
            name, mt = t[2][i]
            return {"field": name, "value": self.value(mt)}
        if k == "any":
            vt = self.type()
            return None if vt is None else (vt, self.value(vt))
        n = self.count()
        el = ("any",) if k == "anyarray" else t[1]
        return [self.value(el) if self.u8() else None for _ in range(n)]


class StreamReader:
    """Reads a stream from a binary file object; values() yields (value, type, changed, overrun)."""

    def __init__(self, f, source="stdin", max_record=1 << 30):
        self.f, self.source, self.max_record = f, source, max_record
        self.count = 0

    def _read(self, n):
        data = self.f.read(n)
        while data is not None and len(data) < n:
            more = self.f.read(n - len(data))
            if not more:
                break
            data += more
        if not data or len(data) < n:
            raise StreamError(f"{self.source}: truncated: the input ended after {self.count} values without the end record")
        return data

    def items(self):
        head = self.f.read(8) or b""
        if not head:
            raise StreamError(f"{self.source}: empty input: no stream header")
        if head[:4] != MAGIC[:len(head[:4])]:
            raise StreamError(f"{self.source}: not a Sluice stream (it starts with {head[:4].hex(' ')})")
        if len(head) < 8:
            head += self._read(8 - len(head))
        if head[:4] != MAGIC:
            raise StreamError(f"{self.source}: not a Sluice stream (it starts with {head[:4].hex(' ')})")
        if head[4] != VERSION:
            raise StreamError(f"{self.source}: stream format version {head[4]}; this reader knows version {VERSION}")
        if head[5] & ~1 or head[6] or head[7]:
            raise StreamError(f"{self.source}: unknown stream header flags")
        le = head[5] & 1 == 0
        e = "<" if le else ">"
        vtype = None
        while True:
            kind, flags, reserved, length = struct.unpack(e + "BBHI", self._read(8))
            if flags or reserved:
                raise StreamError(f"{self.source}: record flags are not 0")
            if length > self.max_record:
                raise StreamError(f"{self.source}: a record of {length} bytes exceeds the limit of {self.max_record}")
            payload = self._read(length) if length else b""
            r = _Reader(payload, le)
            try:
                if kind == KIND_TYPE:
                    vtype = r.type()
                    if not vtype or vtype[0] != "struct":
                        raise StreamError("the type record does not describe a structure")
                    item = ("type", vtype)
                elif kind == KIND_VALUE:
                    if vtype is None:
                        raise StreamError("a value before any type record")
                    changed, overrun = r.bitset(), r.bitset()
                    item = ("value", r.value(vtype), vtype, changed, overrun)
                    self.count += 1
                elif kind == KIND_NOTE:
                    item = ("note", json.loads(bytes(payload).decode("utf-8")))
                    r.at = length
                elif kind == KIND_END:
                    n = r.num("Q", 8)
                    if n != self.count:
                        raise StreamError(f"the end record counts {n} values, the stream held {self.count}")
                    yield ("end", n)
                    return
                elif 0x61 <= kind <= 0x7A:
                    continue  # an optional record this reader does not know
                else:
                    raise StreamError(f"unknown record kind 0x{kind:02x}")
                if r.at != length:
                    raise StreamError(f"{length - r.at} bytes left over after the record")
            except StreamError as err:
                raise StreamError(f"{self.source}: {err}") from None
            yield item

    def values(self):
        for item in self.items():
            if item[0] == "value":
                yield item[1], item[2], item[3], item[4]


class StreamWriter:
    """Writes a stream (little-endian) to a binary file object: write() each value, then end()."""

    def __init__(self, f):
        self.f, self.type, self.count = f, None, 0
        f.write(MAGIC + bytes([VERSION, 0, 0, 0]))

    def _record(self, kind, payload):
        self.f.write(struct.pack("<BBHI", kind, 0, 0, len(payload)))
        self.f.write(payload)

    def write(self, vtype, value, changed=None, overrun=None):
        if vtype != self.type:
            self._record(KIND_TYPE, _type_bytes(vtype))
            self.type = vtype
        out = bytearray()
        _bitset(out, {0} if changed is None else changed)
        _bitset(out, overrun or set())
        _value(out, vtype, value)
        self._record(KIND_VALUE, bytes(out))
        self.count += 1

    def note(self, note):
        self._record(KIND_NOTE, json.dumps(note, separators=(",", ":")).encode("utf-8"))

    def end(self):
        self._record(KIND_END, struct.pack("<Q", self.count))
        self.f.flush()


def _size(out, n):
    if n < 0:
        out.append(255)
    elif n < 254:
        out.append(n)
    else:
        out.append(254)
        out += struct.pack("<i", n)


def _string(out, s):
    b = s.encode("utf-8")
    _size(out, len(b))
    out += b


def _bitset(out, bits):
    n = (max(bits) // 8 + 1) if bits else 0
    b = bytearray(n)
    for i in bits:
        b[i // 8] |= 1 << (i % 8)
    _size(out, n)
    out += b


def _type_bytes(t):
    out = bytearray()
    _type(out, t)
    return bytes(out)


def _type(out, t):
    k = t[0]
    if k in ("struct", "union"):
        out.append(0x80 if k == "struct" else 0x81)
        _string(out, t[1])
        _size(out, len(t[2]))
        for name, mt in t[2]:
            _string(out, name)
            _type(out, mt)
    elif k == "scalar":
        out.append(SCALAR_CODES[t[1]])
    elif k == "array":
        out.append(SCALAR_CODES[t[1]] | 0x08)
    elif k == "bstring":
        out.append(0x83)
        _size(out, t[1])
    elif k == "any":
        out.append(0x82)
    elif k == "structarray":
        out.append(0x88)
        _type(out, t[1])
    elif k == "unionarray":
        out.append(0x89)
        _type(out, t[1])
    elif k == "anyarray":
        out.append(0x8A)
    else:
        raise ValueError(f"not a type: {t!r}")


def _value(out, t, v):
    k = t[0]
    if k == "scalar":
        if t[1] == "string":
            _string(out, v)
        else:
            out += np.asarray(v, dtype="<" + NUMPY[t[1]]).tobytes()
    elif k == "bstring":
        _string(out, v)
    elif k == "array":
        if t[1] == "string":
            _size(out, len(v))
            for s in v:
                _string(out, s)
        else:
            a = np.ascontiguousarray(v, dtype="<" + NUMPY[t[1]])
            _size(out, a.size)
            out += a.tobytes()
    elif k == "struct":
        for name, mt in t[2]:
            _value(out, mt, v[name])
    elif k == "union":
        if v is None:
            _size(out, -1)
        else:
            i = [name for name, _ in t[2]].index(v["field"])
            _size(out, i)
            _value(out, t[2][i][1], v["value"])
    elif k == "any":
        if v is None:
            out.append(0xFF)
        else:
            _type(out, v[0])
            _value(out, v[0], v[1])
    else:
        el = ("any",) if k == "anyarray" else t[1]
        _size(out, len(v))
        for e in v:
            if e is None:
                out.append(0)
            else:
                out.append(1)
                _value(out, el, e)


def main():
    """`python3 sluice_stream.py < stream`: print each value's fields, one line per value."""
    try:
        for value, _t, _c, _o in StreamReader(sys.stdin.buffer).values():
            print({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in value.items()})
    except StreamError as err:
        print(f"sluice_stream: {err}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)  # the reader went away: a normal end


if __name__ == "__main__":
    main()

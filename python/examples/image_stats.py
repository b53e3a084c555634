"""A pipeline stage in Python: NTNDArray frames in, one small record of statistics per frame out.

    sluice cat sim:image | python3 python/examples/image_stats.py | sluice to-json

Reads the stream on stdin, writes a stream of {uniqueId, sum, min, max, mean} on stdout, logs only
on stderr, and stops with one line and status 1 on a stream it cannot take.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from sluice_stream import StreamError, StreamReader, StreamWriter  # noqa: E402

STATS = ("struct", "image_stats", [
    ("uniqueId", ("scalar", "int")),
    ("sum", ("scalar", "double")),
    ("min", ("scalar", "double")),
    ("max", ("scalar", "double")),
    ("mean", ("scalar", "double")),
])


def main():
    out = StreamWriter(sys.stdout.buffer)
    try:
        for value, vtype, _changed, overrun in StreamReader(sys.stdin.buffer).values():
            pixels = value.get("value") if isinstance(value, dict) else None
            if not isinstance(pixels, dict) or "value" not in pixels:
                raise StreamError(f"values of type {vtype[1] or 'structure'} are not NTNDArray frames")
            a = pixels["value"]
            if a.size == 0:
                continue  # an empty frame (a simulator's initial value)
            stats = {"uniqueId": value["uniqueId"], "sum": float(a.sum(dtype="f8")), "min": float(a.min()),
                     "max": float(a.max()), "mean": float(a.mean(dtype="f8"))}
            # A frame lost upstream (overrun) is a lost statistic too: say so in the marks.
            out.write(STATS, stats, {0}, {0} if overrun else set())
        out.end()
    except StreamError as err:
        print(f"image_stats: {err}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":
    main()

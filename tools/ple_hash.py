#!/usr/bin/env python3
"""ple_hash64, the hash of the PLE runtime's hash encoders (docs/encoders.md), for the
training side: bucket ids computed here equal the ones the device computes, bit for bit.

    from ple_hash import hash64, hash_bucket
    hash_bucket("category:sports", 1000)      # a string: its UTF-8 bytes
    hash_bucket(123456789, 1000)              # an int: its 8 little-endian bytes (two's complement)

FNV-1a 64 over the bytes, then MurmurHash3's fmix64 finalizer. Standard library only.
Run as a script: prints the hash and bucket of each argument (--buckets N).
"""
import argparse
import struct

_MASK = (1 << 64) - 1


def hash64(value):
    """The 64-bit hash of a str (UTF-8), bytes, or int (int64, 8 little-endian bytes)."""
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bool):
        raise TypeError("hash64 takes str, bytes or int, not bool")
    elif isinstance(value, int):
        data = struct.pack("<q", value)
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        raise TypeError("hash64 takes str, bytes or int, not %s" % type(value).__name__)
    h = 0xcbf29ce484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & _MASK
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & _MASK
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & _MASK
    h ^= h >> 33
    return h


def hash_bucket(value, buckets):
    """hash64(value) % buckets: the id a hash encoder with `buckets` buckets gives `value`."""
    if buckets <= 0:
        raise ValueError("buckets must be positive")
    return hash64(value) % buckets


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("values", nargs="+", help="strings; --ints reads them as int64")
    parser.add_argument("--ints", action="store_true")
    parser.add_argument("--buckets", type=int, default=0)
    args = parser.parse_args()
    for v in args.values:
        value = int(v) if args.ints else v
        h = hash64(value)
        print("%s\t%016x%s" % (v, h, "\t%d" % (h % args.buckets) if args.buckets else ""))

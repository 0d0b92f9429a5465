#!/usr/bin/env python3
"""make_stream_corpus.py -- seed inputs for stream_fuzz (see stream_fuzz.c):
valid messages of every kind of the tributary_decoder protocol and of
pgoutput, written to corpus_stream/.  Run: python3 fuzz/make_stream_corpus.py
"""
import os
import struct

def u8(n): return struct.pack('>B', n)
def u16(n): return struct.pack('>H', n)
def u32(n): return struct.pack('>I', n)
def u64(n): return struct.pack('>Q', n)
def s(t): return t.encode() + b'\0'

def tuple_(vals):
    out = u16(len(vals))
    for kind, data in vals:
        out += kind
        if kind in (b't', b'b'):
            out += u32(len(data)) + data
    return out

ROW = [(b't', b'1'), (b'b', b'\0\0\0\x07'), (b'n', None), (b'u', None)]
REL = u32(16384) + s('public') + s('t') + b'f' + u16(2) + u8(1) + s('id') + u32(23) + u32(0xffffffff) + u8(0) + s('v') + u32(25) + u32(0xffffffff)

trib = {
    'B': b'B' + u32(700) + u64(0x1000) + u64(1234567),
    'C': b'C' + u8(0) + u64(0x1000) + u64(0x1100) + u64(1234567),
    'R': b'R' + REL,
    'I': b'I' + u32(16384) + b'N' + tuple_(ROW),
    'U': b'U' + u32(16384) + b'O' + tuple_(ROW) + b'N' + tuple_(ROW),
    'D': b'D' + u32(16384) + b'O' + tuple_(ROW),
    'T': b'T' + u8(1) + u32(2) + u32(16384) + u32(16385),
    'M': b'M' + u8(1) + u64(0x1000) + s('tributary.ddl') + u32(5) + b'a\0b\0c',
    'S': b'S' + u32(700) + u8(1),
    'E': b'E',
    'c': b'c' + u32(700) + u8(0) + u64(0x1000) + u64(0x1100) + u64(1234567),
    'A': b'A' + u32(700) + u32(701),
}
pgo = {
    'B': b'B' + u64(0x1000) + u64(1234567) + u32(700),
    'C': b'C' + u8(0) + u64(0x1000) + u64(0x1100) + u64(1234567),
    'O': b'O' + u64(0x1000) + s('elsewhere'),
    'R': b'R' + REL,
    'Y': b'Y' + u32(16390) + s('public') + s('mood'),
    'I': b'I' + u32(16384) + b'N' + tuple_(ROW),
    'UK': b'U' + u32(16384) + b'K' + tuple_(ROW) + b'N' + tuple_(ROW),
    'U': b'U' + u32(16384) + b'N' + tuple_(ROW),
    'D': b'D' + u32(16384) + b'O' + tuple_(ROW),
    'T': b'T' + u32(1) + u8(0) + u32(16384),
    'M': b'M' + u8(1) + u64(0x1000) + s('someone') + u32(3) + b'abc',
    'S': b'S' + u32(700) + u8(1),
    'E': b'E',
    'c': b'c' + u32(700) + u8(0) + u64(0x1000) + u64(0x1100) + u64(1234567),
    'A': b'A' + u32(700) + u32(701),
    'A4': b'A' + u32(700) + u32(701) + u64(0x1000) + u64(1234567),
    'K': b'K' + u8(0) + u64(0x1000) + u64(0x1100) + u64(1234567) + u32(700) + s('gid'),
}
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus_stream')
os.makedirs(here, exist_ok=True)
for name, m in trib.items():
    open(os.path.join(here, 'trib_' + name), 'wb').write(u8(0) + m)
open(os.path.join(here, 'trib_streamed_I'), 'wb').write(u8(4) + b'I' + u32(700) + u32(16384) + b'N' + tuple_(ROW))
open(os.path.join(here, 'trib_batch'), 'wb').write(u8(1) + trib['B'] + trib['R'] + trib['I'] + trib['U'] + trib['C'])
for name, m in pgo.items():
    open(os.path.join(here, 'pgo_' + name), 'wb').write(u8(2) + m)
open(os.path.join(here, 'pgo_streamed_I'), 'wb').write(u8(6) + b'I' + u32(700) + u32(16384) + b'N' + tuple_(ROW))

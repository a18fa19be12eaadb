#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""List every inode an EROFS image's directory tree reaches, read with a
reader of its own (not the toolchain's), for tests that check properties
the kernel does not show: inode form, data layout, i_format flags, inline
xattr area size and name filter, compact mtime field.

Directories must be uncompressed (FLAT_PLAIN or FLAT_INLINE).

Usage: inode_census.py [--offset N] IMAGE
Prints a JSON object: "sb" with superblock fields, "inodes" a list of
{path, nid, version, layout, flags, mode, nlink, size, xattr_size,
name_filter, compact_mtime, dirents}.
"""
import argparse
import json
import stat
import struct
import sys

SB = 1024


class Img:
    def __init__(self, path, offset):
        with open(path, 'rb') as f:
            f.seek(offset)
            self.b = f.read()
        b = self.b
        (magic, _csum, self.compat, self.blkszbits, _ext, rootnid_2b,
         self.inos, self.epoch, self.fixed_nsec, blocks_lo, self.meta_blkaddr,
         self.xattr_blkaddr) = struct.unpack_from('<IIIBBHQQIIII', b, SB)
        if magic != 0xE0F5E1E2:
            raise SystemExit('no EROFS magic')
        self.incompat = struct.unpack_from('<I', b, SB + 0x50)[0]
        self.packed_nid = struct.unpack_from('<Q', b, SB + 0x60)[0]
        self.build_time = struct.unpack_from('<I', b, SB + 0x6c)[0]
        root8 = struct.unpack_from('<Q', b, SB + 0x70)[0]
        self.blocks = blocks_lo
        if self.incompat & 0x80 and root8:
            self.root_nid = root8
            self.blocks |= rootnid_2b << 32
        else:
            self.root_nid = rootnid_2b
        self.blksz = 1 << self.blkszbits

    def inode(self, nid):
        p = self.meta_blkaddr * self.blksz + nid * 32
        fmt, icount, mode = struct.unpack_from('<HHH', self.b, p)
        r = {'nid': nid, 'version': fmt & 1, 'layout': (fmt >> 1) & 7,
             'flags': fmt >> 4, 'mode': mode}
        if fmt & 1:
            (nb, size, i_u, _ino, _uid, _gid, _mt, _mtn,
             nlink) = struct.unpack_from('<HQIIIIQII', self.b, p + 6)
            isize = 64
            r['compact_mtime'] = None
        else:
            (nb, size, mtime, i_u) = struct.unpack_from('<HIII', self.b,
                                                        p + 6)
            isize = 32
            nlink = nb
            if not stat.S_ISDIR(mode) and fmt >> 4 & 1:
                nlink = 1
            else:
                nb = 0
            r['compact_mtime'] = mtime
        r['size'], r['nlink'] = size, nlink
        r['startblk'] = i_u | nb << 32
        r['xattr_size'] = 12 + 4 * (icount - 1) if icount else 0
        r['name_filter'] = None
        if icount:
            r['name_filter'] = struct.unpack_from('<I', self.b,
                                                  p + isize)[0]
        r['ibody_end'] = p + isize + r['xattr_size']
        return r

    def dir_data(self, ino):
        size, layout = ino['size'], ino['layout']
        if layout not in (0, 2):
            raise SystemExit('directory nid %d: layout %d is not flat' %
                             (ino['nid'], layout))
        nblocks = size // self.blksz if layout == 2 else \
            -(-size // self.blksz)
        start = ino['startblk'] * self.blksz
        data = self.b[start:start + nblocks * self.blksz]
        if layout == 2:
            data += self.b[ino['ibody_end']:ino['ibody_end'] +
                           size - nblocks * self.blksz]
        return data[:size]

    def dirents(self, ino):
        data, out = self.dir_data(ino), []
        for blk in range(0, len(data), self.blksz):
            chunk = data[blk:blk + self.blksz]
            first = struct.unpack_from('<H', chunk, 8)[0]
            n = first // 12
            for i in range(n):
                nid, off, ftype = struct.unpack_from('<QHB', chunk, i * 12)
                end = struct.unpack_from('<H', chunk, i * 12 + 20)[0] \
                    if i + 1 < n else len(chunk)
                name = chunk[off:end].rstrip(b'\0') if i + 1 == n else \
                    chunk[off:end]
                out.append((name, nid, ftype))
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('image')
    ap.add_argument('--offset', type=int, default=0)
    o = ap.parse_args()
    img = Img(o.image, o.offset)
    seen, inodes = set(), []
    todo = [(b'', img.root_nid)]
    while todo:
        path, nid = todo.pop()
        if nid in seen:
            continue
        seen.add(nid)
        ino = img.inode(nid)
        ino['path'] = '/' + path.decode('utf-8', 'backslashreplace')
        if stat.S_ISDIR(ino['mode']):
            ents = img.dirents(ino)
            ino['dirents'] = [e[0].decode('utf-8', 'backslashreplace')
                              for e in ents if e[0] in (b'.', b'..')]
            for name, cnid, _ in ents:
                if name not in (b'.', b'..'):
                    todo.append((path + b'/' + name if path else name, cnid))
        inodes.append(ino)
    json.dump({'sb': {k: getattr(img, k) for k in (
        'compat', 'incompat', 'blkszbits', 'blocks', 'epoch', 'build_time',
        'fixed_nsec', 'root_nid', 'meta_blkaddr', 'xattr_blkaddr',
        'packed_nid', 'inos')}, 'inodes': inodes}, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())

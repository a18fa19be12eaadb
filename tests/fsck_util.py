#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Helpers for the fsck, extract and dump tests: a source tree holding
every kind of entry, and a small reader/patcher of images for crafting
damaged ones (superblock fields, checksums, inodes, directory entries).

Usage as a program:
  fsck_util.py make-tree DEST        build the test tree (prints skips)
  fsck_util.py fix-checksum IMAGE    recompute the superblock checksum
  fsck_util.py forge-fingerprint SRC DST A B
                                     copy image SRC to DST with the one
                                     sha256: fingerprint of file B's content
                                     replaced by that of file A's
"""
import os
import socket
import stat
import struct
import subprocess
import sys

SB = 1024  # superblock offset

# ---- what the test programs share --------------------------------------
TOP = os.environ.get('TOP_BUILDDIR', '.')
MKFS = os.environ.get('MKFS', os.path.join(TOP, 'mkfs/mkfs.erofs'))
FSCK = os.environ.get('FSCK', os.path.join(TOP, 'fsck/fsck.erofs'))
DUMP = os.environ.get('DUMP', os.path.join(TOP, 'dump/dump.erofs'))
_failures = 0


def result(ok, name, why=''):
    """Print the PASS or FAIL line of a check; exit_status() counts them."""
    global _failures
    if ok:
        print('PASS: ' + name)
    else:
        _failures += 1
        print('FAIL: %s: %s' % (name, why))


def exit_status():
    """1 when any check failed, else 0."""
    return 1 if _failures else 0

# ---- CRC32C, as the superblock checksum uses it ------------------------
_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 if _c & 1 else 0)
    _CRC_TABLE.append(_c)


def crc32c_raw(crc, data):
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


class Image:
    """An image in memory, with the superblock fields tests need."""

    def __init__(self, path):
        self.path = path
        with open(path, 'rb') as f:
            self.b = bytearray(f.read())
        self.parse()

    def parse(self):
        b = self.b
        self.blkszbits = b[SB + 12]
        self.blksz = 1 << self.blkszbits
        self.compat = struct.unpack_from('<I', b, SB + 8)[0]
        self.incompat = struct.unpack_from('<I', b, SB + 0x50)[0]
        self.meta_blkaddr = struct.unpack_from('<I', b, SB + 0x28)[0]
        self.xattr_blkaddr = struct.unpack_from('<I', b, SB + 0x2c)[0]
        self.blocks = struct.unpack_from('<I', b, SB + 0x24)[0]
        root8 = struct.unpack_from('<Q', b, SB + 0x70)[0]
        if self.incompat & 0x80 and root8:
            self.root_nid = root8
        else:
            self.root_nid = struct.unpack_from('<H', b, SB + 14)[0]

    def save(self, path=None, fix=True):
        if fix:
            self.fix_checksum()
        with open(path or self.path, 'wb') as f:
            f.write(self.b)

    def fix_checksum(self):
        if not self.compat & 1:
            return
        length = self.blksz - 1024 if self.blksz > 1024 else self.blksz
        region = bytearray(self.b[SB:SB + length])
        region[4:8] = b'\0\0\0\0'
        struct.pack_into('<I', self.b, SB + 4, crc32c_raw(0xFFFFFFFF, region))

    def iloc(self, nid):
        return self.meta_blkaddr * self.blksz + nid * 32

    def inode(self, nid):
        """(i_format, mode, size, i_u, inode size, xattr size) of nid."""
        p = self.iloc(nid)
        fmt, icount, mode = struct.unpack_from('<HHH', self.b, p)
        if fmt & 1:
            size = struct.unpack_from('<Q', self.b, p + 8)[0]
            isize = 64
        else:
            size = struct.unpack_from('<I', self.b, p + 8)[0]
            isize = 32
        i_u = struct.unpack_from('<I', self.b, p + 16)[0]
        xsize = 12 + 4 * (icount - 1) if icount else 0
        return fmt, mode, size, i_u, isize, xsize

    def find(self, needle, start=0):
        """The only offset of bytes "needle"; fails if not unique."""
        at = self.b.find(needle, start)
        if at < 0 or self.b.find(needle, at + 1) >= 0:
            raise ValueError('%r is not unique in %s' % (needle, self.path))
        return at

    def dirent_of_name(self, name):
        """Offset of the 12-byte dirent whose name is the unique "name".

        The name's offset inside its block is a nameoff of some dirent
        at the start of that block."""
        at = self.find(name)
        blk = at - at % self.blksz
        nameoff = at - blk
        first = struct.unpack_from('<H', self.b, blk + 8)[0]
        for i in range(first // 12):
            if struct.unpack_from('<H', self.b, blk + 12 * i + 8)[0] == nameoff:
                return blk + 12 * i
        # an inline directory: its dirents start after inode and xattrs
        for nid_pos in range(blk, at, 32):
            for off in (32, 64):
                d = nid_pos + off
                if d + 12 > at:
                    continue
                first = struct.unpack_from('<H', self.b, d + 8)[0]
                if not first or first % 12 or d + first > at + 256:
                    continue
                for i in range(first // 12):
                    if struct.unpack_from('<H', self.b, d + 12 * i + 8)[0] \
                            == at - d:
                        return d + 12 * i
        raise ValueError('no dirent for %r' % name)

    def set_dirent_nid(self, name, nid, ftype=None):
        d = self.dirent_of_name(name)
        struct.pack_into('<Q', self.b, d, nid)
        if ftype is not None:
            self.b[d + 10] = ftype

    def dirent_nid(self, name):
        return struct.unpack_from('<Q', self.b, self.dirent_of_name(name))[0]


def kernel_mounts(img, work):
    """Whether this machine's kernel mounts img (True/False), or None
    without root to ask it."""
    if os.geteuid() != 0:
        return None
    mnt = os.path.join(work, 'mnt')
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.run(['mount', '-t', 'erofs', '-o', 'loop,ro', img, mnt],
                       capture_output=True)
    if p.returncode:
        return False
    subprocess.run(['umount', mnt])
    return True


def nid_of(dump, image, path):
    """The nid of "path" according to our dump.erofs."""
    out = subprocess.run([dump, '--path=' + path, image], check=True,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith('NID:'):
            return int(line.split()[1])
    raise ValueError('no NID for ' + path)


# ---- the test tree -----------------------------------------------------
def make_tree(dest):
    """Every kind of entry an image can hold. Prints "not created: ..."
    for cases this machine cannot make (not root, no xattr support)."""
    root = os.geteuid() == 0
    os.makedirs(dest)

    def p(rel):
        return os.path.join(dest, rel)

    def write(rel, data, mode=0o644):
        with open(p(rel), 'wb') as f:
            f.write(data)
        os.chmod(p(rel), mode)

    def missing(case, why):
        print('not created: %s: %s' % (case, why))

    text = b''.join(b'line %d of a compressible text file\n' % i
                    for i in range(3000))
    rnd = bytes((i * 7919 + (i >> 5) * 31) & 0xff for i in range(300000))
    os.makedirs(p('dir/sub/deeper'))
    write('empty', b'')
    write('one', b'x')
    write('text.txt', text)
    write('random.bin', rnd)
    write('dir/sub/deeper/leaf', b'leaf\n')
    for size in (511, 512, 513, 4095, 4096, 4097, 8191, 65537):
        write('sizes-%d' % size, rnd[:size])
    write('setuid', b'#!/bin/sh\n', 0o4755)
    write('setgid-sticky', b'', 0o3711)
    os.chmod(p('dir/sub'), 0o2750)
    # hard links: three names, one inode; and one across directories
    write('hl-a', b'hard linked\n')
    os.link(p('hl-a'), p('hl-b'))
    os.link(p('hl-a'), p('dir/hl-c'))
    # symlinks: relative, absolute, dangling, long
    os.symlink('text.txt', p('sym-rel'))
    os.symlink('/etc/passwd', p('sym-abs'))
    os.symlink('does/not/exist', p('sym-dangling'))
    os.symlink('t' * 1000, p('sym-long'))
    os.link(p('sym-rel'), p('sym-hardlink'), follow_symlinks=False)
    # sparse files
    with open(p('sparse'), 'wb') as f:
        f.truncate(5 * 1024 * 1024)
        f.seek(1024 * 1024 + 100)
        f.write(b'data in the middle')
        f.seek(4 * 1024 * 1024)
        f.write(rnd[:9000])
    with open(p('all-hole'), 'wb') as f:
        f.truncate(3 * 1024 * 1024)
    # names: the longest, odd bytes, a big directory, a deep path
    write('n' * 255, b'longest name\n')
    write('dir/with space', b'')
    write(os.fsdecode(b'dir/\xff\xfe-not-utf8'), b'')
    os.makedirs(p('big'))
    for i in range(1200):
        write('big/entry-%05d-%s' % (i, 'x' * (i % 40)), b'')
    deep = 'deep'
    for i in range(40):
        deep = os.path.join(deep, 'level%02d' % i)
    os.makedirs(p(deep))
    write(os.path.join(deep, 'bottom'), b'bottom\n')
    # special files
    os.mkfifo(p('fifo'))
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(p('socket'))
    finally:
        s.close()
    if root:
        os.mknod(p('chr'), 0o620 | stat.S_IFCHR, os.makedev(4, 64))
        os.mknod(p('blk'), 0o660 | stat.S_IFBLK, os.makedev(259, 300000))
    else:
        missing('device nodes', 'needs root')
    # xattrs, shared ones, ACLs
    try:
        os.setxattr(p('text.txt'), 'user.comment', b'hello')
        os.setxattr(p('random.bin'), 'user.empty', b'')
        for i in range(5):
            write('xattr-shared-%d' % i, b'%d' % i)
            os.setxattr(p('xattr-shared-%d' % i), 'user.common', b'same value')
        os.setxattr(p('dir'), 'user.on-dir', b'dir value')
        if root:
            os.setxattr(p('one'), 'trusted.something', b'\0\1\2binary')
            os.setxattr(p('setuid'), 'security.capability',
                        bytes.fromhex('0100000200200000000000000000000000000000'))
        else:
            missing('trusted and security xattrs', 'needs root')
    except OSError as e:
        missing('xattrs', e.strerror)
    try:
        subprocess.run(['setfacl', '-m', 'u:1234:rw,g:5678:r', p('one')],
                       check=True, capture_output=True)
        subprocess.run(['setfacl', '-d', '-m', 'u:1234:rx', p('dir/sub')],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        missing('POSIX ACLs', str(e))
    # owners and times, last
    if root:
        os.chown(p('one'), 1234, 5678)
        os.chown(p('dir/sub'), 100000, 100001)
        os.lchown(p('sym-rel'), 42, 43)
    else:
        missing('owners', 'needs root')
    os.utime(p('text.txt'), ns=(1, 1234567890123456789))
    os.utime(p('one'), ns=(1, 315532800000000001))
    os.utime(p('sym-abs'), ns=(1, 1600000000999999999), follow_symlinks=False)
    os.utime(p('dir/sub'), ns=(1, 1500000000000000007))
    os.utime(p('dir'), ns=(1, 1400000000000000000))


def forge_fingerprint(src, dst, a, b):
    import hashlib
    img = bytearray(open(src, 'rb').read())
    va = b'sha256:' + hashlib.sha256(open(a, 'rb').read()).digest()
    vb = b'sha256:' + hashlib.sha256(open(b, 'rb').read()).digest()
    i = img.find(vb)
    assert i > 0 and img.find(vb, i + 1) < 0
    img[i:i + len(vb)] = va
    open(dst, 'wb').write(img)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'make-tree':
        make_tree(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == 'fix-checksum':
        img = Image(sys.argv[2])
        img.save()
    elif len(sys.argv) == 6 and sys.argv[1] == 'forge-fingerprint':
        forge_fingerprint(*sys.argv[2:6])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()

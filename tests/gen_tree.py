#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Generate a deterministic source tree holding the cases an EROFS builder
must carry through a round trip: sizes around every block size, inline tail
limits, big and sparse files, huge directories, long and odd names, deep
paths, every file type, hardlinks, odd modes, large ids, extreme times and,
with --xattrs, extended attributes and POSIX ACLs.

The same seed gives the same names, contents, modes, owners, times and
xattrs. Cases the filesystem under DEST (or the caller's privileges) cannot
hold are listed on stdout as "not created: CASE: reason" and the rest of the
tree is still made; the exit status is 0 unless DEST itself is unusable.

Usage: gen_tree.py [--seed N] [--build-time T] [--xattrs] [--huge-size N]
                   [--small] DEST
"""
import argparse
import errno
import os
import random
import shutil
import socket
import stat
import struct
import subprocess
import sys
import zlib

BLOCK_SIZES = (512, 1024, 2048, 4096)
# inode sizes of the two EROFS inode forms, for the inline tail limits
COMPACT, EXTENDED = 32, 64


class Gen:
    def __init__(self, root, seed, build_time, xattrs, huge_size, small):
        self.root = os.fsencode(os.path.abspath(root))
        self.seed = seed
        self.rnd = random.Random(seed)
        self.build_time = build_time
        self.xattrs = xattrs
        self.huge_size = huge_size
        self.small = small
        self.is_root = os.geteuid() == 0
        self.missing = []
        self.times = {}  # relpath (bytes) -> total nanoseconds
        self.modes = {}  # relpath -> mode, applied after the contents
        self.owners = {}  # relpath -> (uid, gid)

    # ---- helpers -------------------------------------------------------
    def p(self, rel):
        return os.path.join(self.root, os.fsencode(rel))

    def miss(self, case, why):
        if isinstance(why, OSError):
            why = os.strerror(why.errno) if why.errno else str(why)
        self.missing.append((case, why))

    def data(self, n):
        return self.rnd.randbytes(n)

    def mkdir(self, rel):
        os.makedirs(self.p(rel), exist_ok=True)
        return rel

    def file(self, rel, size=None, content=None):
        if content is None:
            content = self.data(size)
        parent = os.path.dirname(self.p(rel))
        os.makedirs(parent, exist_ok=True)
        with open(self.p(rel), 'wb') as f:
            f.write(content)
        return rel

    def symlink(self, rel, target, case=None):
        try:
            os.symlink(os.fsencode(target), self.p(rel))
            return True
        except OSError as e:
            self.miss(case or 'symlink ' + str(rel), e)
            return False

    def setx(self, rel, name, value, case):
        try:
            os.setxattr(self.p(rel), name, value, follow_symlinks=False)
            return True
        except OSError as e:
            self.miss(case, e)
            return False

    # ---- the cases -----------------------------------------------------
    def sizes(self):
        """Sizes around 0, 1 and each block size, and inline limits."""
        seen = set()
        for bs in BLOCK_SIZES:
            for s in (0, 1, bs - 1, bs, bs + 1, 2 * bs - 1, 2 * bs,
                      2 * bs + 1, 3 * bs + 7):
                if s in seen:
                    continue
                seen.add(s)
                self.file('sizes/s%06d' % s, s)
        # The tail of the last block goes inline when inode, xattrs and
        # tail fit in one block: sizes whose tail is just under and just
        # over that limit for both inode forms. Files whose mtime is the
        # build time can use compact inodes; others need extended ones.
        for bs in BLOCK_SIZES:
            for isize in (COMPACT, EXTENDED):
                for d in range(isize - 2, isize + 3):
                    for k in (0, 1) if not self.small else (0,):
                        rel = 'inline/b%d/i%d-d%d-k%d' % (bs, isize, d, k)
                        self.file(rel, k * bs + bs - d)
                        # an mtime other than the build time needs an
                        # extended inode
                        self.times[os.fsencode(rel)] = (
                            self.build_time + (isize == EXTENDED)) * 10**9
        for i in range(6):
            self.file('multi/m%d' % i, self.rnd.randrange(5000, 300000))
        self.file('big/five-mb', 5 * 1024 * 1024 + 321)
        # equal contents (for fingerprints) and written zeroes
        same = self.data(10000)
        for n in ('dup/a', 'dup/b', 'dup/sub/c'):
            self.file(n, content=same)
        self.file('dup/zeroes-written', content=bytes(65536))

    def dirs(self):
        """A 3000-entry directory, 255-byte names, odd names, deep paths."""
        count = 300 if self.small else 3000
        d = self.mkdir('bigdir')
        alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.'
        for i in range(count):
            ln = self.rnd.randrange(1, 60)
            name = '%05d' % i + ''.join(self.rnd.choice(alphabet)
                                         for _ in range(ln))
            rel = d + '/' + name
            kind = i % 10
            if kind == 7:
                os.mkdir(self.p(rel))
            elif kind == 8:
                self.symlink(rel, 'target-%d' % i)
            else:
                self.file(rel, i % 5)
        # lookup edge cases: names that prefix each other
        for name in ('a', 'aa', 'aaa', 'ab', 'b', 'A', 'B', 'z'):
            self.file(d + '/' + name, 1)

        # one dirent per block at 512 bytes: 255-byte names
        d = self.mkdir('longnames')
        for i in range(40 if self.small else 300):
            name = ('%04d' % i) + ''.join(self.rnd.choice(alphabet)
                                          for _ in range(251))
            self.file(d + '/' + name, i % 3)
        self.file('n255/' + 'f' * 255, 10)
        self.mkdir('n255/' + 'd' * 255)
        self.file('n255/' + 'd' * 255 + '/' + 'x' * 255, 3)
        self.symlink('n255/' + 'l' * 255, 'x' * 255)
        # 85 three-byte UTF-8 characters: 255 bytes
        self.file(b'n255/' + ('\u20ac' * 85).encode(), 1)

        names = [b'with space', b' leading space', b'trailing space ',
                 b'tab\tname', b'new\nline', b'back\\slash', b'q"uote',
                 b"apos'", b'*star?', b'[brackets]', b'-', b'--',
                 b'-leading-dash', b'#hash', b'!bang', b'!', b'"', b'#',
                 b'$', b'%', b'&', b'(', b')', b'+', b',', b'...',
                 b'.hidden', b'..dotdot-prefix', b'~tilde', b'\x01ctrl',
                 b'\x7fdel', '\u00fcn\u00efc\u00f6d\u00e9'.encode(),
                 '\u540d\u524d'.encode(), '\U0001f600emoji'.encode(),
                 b'\xff\xfe not utf-8', b'\xc3\x28', b'\x80', b'\xfe',
                 b'=', b'@', b'^', b'{', b'|', b'}', b'0', b'9', b':']
        for i, name in enumerate(names):
            self.file(b'names/' + name, i)
        self.mkdir('names/-dir with space')
        self.file('names/-dir with space/!inner', 5)

        deep = 'deep/' + '/'.join('d%02d' % i for i in range(1, 41))
        self.mkdir(deep)
        self.file(deep + '/leaf', 100)
        self.symlink(deep + '/up', '../' * 40 + 'sizes/s000001')
        self.mkdir('empty-dir')
        self.mkdir('nested-empty/a/b/c')

    def special(self):
        """Every file type, devices with large numbers, symlink targets."""
        d = self.mkdir('types')
        devs = [('chr', stat.S_IFCHR, 1, 3), ('chr-whiteout', stat.S_IFCHR, 0, 0),
                ('chr-big', stat.S_IFCHR, 4095, (1 << 20) - 1),
                ('chr-mid', stat.S_IFCHR, 256, 256),
                ('chr-minor-hi', stat.S_IFCHR, 3, 0x12345),
                ('blk', stat.S_IFBLK, 8, 1),
                ('blk-big', stat.S_IFBLK, 4000, 987654),
                ('blk-255', stat.S_IFBLK, 255, 255)]
        for name, kind, ma, mi in devs:
            try:
                os.mknod(self.p(d + '/' + name), kind | 0o640,
                         os.makedev(ma, mi))
            except OSError as e:
                self.miss('device %s %d:%d' % (name, ma, mi), e)
        os.mkfifo(self.p(d + '/fifo'))
        self.socket(d + '/socket')
        self.file(d + '/regular', 77)
        self.mkdir(d + '/dir')
        self.symlink(d + '/link', 'regular')
        self.symlink(d + '/dangling', 'does/not/exist')
        self.symlink(d + '/absolute', '/etc/passwd')
        self.symlink(d + '/utf8', '\u540d\u524d/\u00fc')
        # targets around every block size (inline limits), up to 4095
        lens = {1, 31, 32, 33, 4095}
        for bs in BLOCK_SIZES:
            for v in (bs - EXTENDED - 1, bs - EXTENDED, bs - EXTENDED + 1,
                      bs - COMPACT - 1, bs - COMPACT, bs - COMPACT + 1,
                      bs - 1, bs, bs + 1):
                if 0 < v <= 4095:
                    lens.add(v)
        alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
        for n in sorted(lens):
            t = ''.join(self.rnd.choice(alphabet + '/') for _ in range(n))
            self.symlink('%s/sym%04d' % (d, n), t, 'symlink of %d bytes' % n)
        # 4096 bytes is beyond PATH_MAX - 1; the kernel refuses it
        try:
            os.symlink(b'y' * 4096, self.p(d + '/too-long-target'))
            os.unlink(self.p(d + '/too-long-target'))
        except OSError:
            pass

    def socket(self, rel):
        path = self.p(rel)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.getcwd()
        try:
            # sun_path holds 108 bytes: bind by a name relative to the dir
            os.chdir(os.path.dirname(path))
            s.bind(os.path.basename(path))
        except OSError as e:
            self.miss('socket ' + rel, e)
        finally:
            os.chdir(old)
            s.close()

    def links(self):
        """Hardlink groups of 2 and 5 across directories, of every type."""
        self.file('links/g2-a', 1234)
        self.mkdir('links/other')
        os.link(self.p('links/g2-a'), self.p('links/other/g2-b'))
        self.file('links/g5-1', 9000)
        for i, where in enumerate(('links/g5-2', 'links/other/g5-3',
                                   'deep/d01/g5-4', 'bigdir/g5-5')):
            os.link(self.p('links/g5-1'), self.p(where))
        self.file('links/empty-1', 0)
        os.link(self.p('links/empty-1'), self.p('links/other/empty-2'))
        os.link(self.p('links/empty-1'), self.p('links/empty-3'))
        os.mkfifo(self.p('links/fifo-1'))
        os.link(self.p('links/fifo-1'), self.p('links/other/fifo-2'))
        self.symlink('links/sym-1', 'g2-a')
        try:
            os.link(self.p('links/sym-1'), self.p('links/other/sym-2'),
                    follow_symlinks=False)
        except OSError as e:
            self.miss('hardlinked symlink', e)
        try:
            os.mknod(self.p('links/chr-1'), stat.S_IFCHR | 0o600,
                     os.makedev(10, 200))
            os.link(self.p('links/chr-1'), self.p('links/other/chr-2'))
        except OSError as e:
            self.miss('hardlinked char device', e)
        self.socket('links/sock-1')
        if os.path.lexists(self.p('links/sock-1')):
            os.link(self.p('links/sock-1'), self.p('links/other/sock-2'))

    def perms(self):
        """Odd modes and ids above 65535."""
        d = self.mkdir('modes')
        # without root, a builder cannot read what its owner cannot, and
        # nobody could clean up a directory its owner cannot write
        for m in (0o4755, 0o2755, 0o6755, 0o1755, 0o7777, 0o0, 0o777,
                  0o4000, 0o2000, 0o1000, 0o400, 0o111):
            if not self.is_root and not m & 0o400:
                self.miss('file mode %04o' % m, 'unreadable without root')
                continue
            rel = d + '/f%04o' % m
            self.file(rel, m % 7)
            self.modes[rel] = m
        for m in (0o1777, 0o2775, 0o0, 0o7777, 0o500):
            if not self.is_root and m & 0o700 != 0o700:
                self.miss('directory mode %04o' % m, 'needs root')
                continue
            rel = d + '/d%04o' % m
            self.mkdir(rel)
            self.file(rel + '/inside', 3)
            self.modes[rel] = m
        d = self.mkdir('ids')
        for uid, gid in ((65535, 65535), (65536, 65536), (70000, 1),
                         (1, 70000), (4294967294, 4294967294),
                         (1000, 1000), (0, 65536)):
            rel = d + '/f-%d-%d' % (uid, gid)
            self.file(rel, 5)
            self.owners[rel] = (uid, gid)
        self.mkdir(d + '/dir-big')
        self.owners[d + '/dir-big'] = (123456, 654321)
        self.symlink(d + '/sym-big', 'f-1-70000')
        self.owners[d + '/sym-big'] = (99999, 88888)
        os.mkfifo(self.p(d + '/fifo-big'))
        self.owners[d + '/fifo-big'] = (300000, 300001)

    def timecases(self):
        """Old, negative, far-future and nanosecond mtimes."""
        bt = self.build_time
        cases = {
            'epoch': (0, 0), 'epoch-1ns': (0, 1), 'minus-1s': (-1, 0),
            'minus-half-s': (-1, 500000000), 'y1901': (-(1 << 31), 0),
            'y1920': (-1577923200, 999999999), 'y2038-lo': ((1 << 31) - 1, 0),
            'y2038-hi': (1 << 31, 1), 'y2106-lo': ((1 << 32) - 1, 0),
            'y2106': (1 << 32, 123456789), 'y2106-hi': ((1 << 32) + 1, 0),
            'y2100': (4102444800, 0), 'y2200': (7258118400, 5),
            'y2286': (10 ** 10, 0), 'ext4-max': (15032385535, 0),
            'beyond-ext4': (1 << 34, 0), 'ns-max': (1600000000, 999999999),
            'ns-1': (1600000000, 1), 'build-time': (bt, 0),
            'build-time-1ns': (bt, 1), 'build-time+1': (bt + 1, 0),
            'build-time-1': (bt - 1, 0),
        }
        self.mkdir('times')
        for name, (s, ns) in sorted(cases.items()):
            rel = 'times/' + name
            self.file(rel, 1)
            self.times[os.fsencode(rel)] = s * 10**9 + ns
        for name, tm in (('dir-old', (-86400, 42)), ('dir-new', (1 << 33, 7)),
                         ('dir-bt', (bt, 0))):
            rel = 'times/' + name
            self.mkdir(rel)
            self.times[os.fsencode(rel)] = tm[0] * 10**9 + tm[1]
        self.symlink('times/sym-old', 'epoch')
        self.times[b'times/sym-old'] = -1000 * 10**9 + 3
        self.symlink('times/sym-bt', 'epoch')
        self.times[b'times/sym-bt'] = bt * 10**9

    def sparse(self):
        """Holes at the start, middle and end; a large mostly-hole file."""
        d = self.mkdir('sparse')
        mb = 1 << 20

        def mk(name, size, extents):
            with open(self.p(d + '/' + name), 'wb') as f:
                f.truncate(size)
                for off, n in extents:
                    f.seek(off)
                    f.write(self.data(n))
        mk('hole-start', mb + 5000, [(mb, 5000)])
        mk('hole-middle', 2 * mb + 300017, [(0, 300000), (2 * mb, 300017)])
        mk('hole-end', 3 * mb, [(0, 200000)])
        mk('all-hole', 10 * mb + 1, [])
        mk('one-block-hole', 3 * 4096 + 100, [(0, 4096), (8192, 4196)])
        mk('unaligned-data', 2 * mb, [(mb + 7, 10)])
        mk('stripes', mb, [(i, 4096) for i in range(0, mb, 8192)])
        mk('hole-start-unaligned-end', 5 * mb + 3, [(4 * mb, mb + 3)])
        if self.huge_size:
            size = self.huge_size
            mk('huge', size, [(0, 4096), (size // 2 + 12345, 100),
                              (size - 3000, 3000)])
        # a file the source could not make sparse still compares
        st = os.stat(self.p(d + '/all-hole'))
        if st.st_blocks * 512 >= st.st_size:
            self.miss('sparse files', 'the filesystem allocated the holes')

    def xattr_cases(self):
        """Extended attributes and POSIX ACLs."""
        d = self.mkdir('xattrs')
        rel = self.file(d + '/forty', 100)
        for i in range(40):
            self.setx(rel, 'user.attr%02d' % i, self.data(i * 3 + 1),
                      '40 xattrs on one file')
        self.setx(self.file(d + '/big-value', 10), 'user.big',
                  self.data(3000), '3000-byte xattr value')
        # an empty value, and a name listed after it
        self.setx(self.file(d + '/empty-value', 0), 'user.empty', b'',
                  'empty xattr value')
        self.setx(d + '/empty-value', 'user.empty-neighbour', b'n',
                  'xattr after an empty value')
        self.setx(self.file(d + '/binary-value', 3), 'user.bin',
                  b'\0\1\0\xff\0', 'binary xattr value')
        self.setx(self.file(d + '/long-name', 3), 'user.' + 'n' * 250,
                  b'v', '255-byte xattr name')
        # the largest value the source filesystem takes (VFS: 64 KiB)
        rel = self.file(d + '/largest-value', 1)
        try:
            os.setxattr(self.p(rel), 'user.largest', self.data(65535))
        except OSError as e:
            self.miss('xattr value of 65535 bytes', e)
            self.setx(rel, 'user.largest', self.data(3900),
                      'xattr value of 3900 bytes')
        rel = self.mkdir(d + '/dir')
        self.setx(rel, 'user.dirattr', b'dir value', 'user xattr on a dir')
        self.setx(rel, 'trusted.dirattr', b'trusted dir',
                  'trusted xattr on a dir')
        self.setx(rel, 'trusted.overlay.opaque', b'y',
                  'trusted.overlay.opaque')
        rel = self.mkdir(d + '/redirected')
        self.setx(rel, 'trusted.overlay.redirect', b'/some/where',
                  'trusted.overlay.redirect')
        self.setx(rel, 'trusted.overlay.origin', self.data(29),
                  'trusted.overlay.origin')
        if self.symlink(d + '/symlink', 'forty'):
            self.setx(d + '/symlink', 'trusted.symattr', b'on a symlink',
                      'trusted xattr on a symlink')
            self.setx(d + '/symlink', 'security.symattr', b'sec link',
                      'security xattr on a symlink')
        os.mkfifo(self.p(d + '/fifo'))
        self.setx(d + '/fifo', 'trusted.fifo', b'1', 'xattr on a fifo')
        try:
            os.mknod(self.p(d + '/chr'), stat.S_IFCHR | 0o600,
                     os.makedev(1, 7))
            self.setx(d + '/chr', 'security.dev', b'2', 'xattr on a device')
        except OSError as e:
            self.miss('device for xattrs', e)
        self.setx('', 'user.rootattr', b'root of the tree',
                  'xattr on the root directory')
        self.setx(self.file(d + '/selinux', 5), 'security.selinux',
                  b'system_u:object_r:etc_t:s0\0', 'security.selinux')
        self.caps(d)
        self.acls(d)
        # one (name, value) pair on 30 files, another on 3
        for i in range(30):
            where = (d + '/shared%02d' % i if i % 3 else
                     'bigdir/shared-%02d' % i)
            self.setx(self.file(where, i), 'user.shared',
                      b'one value for thirty files', 'pair shared by 30')
            if i < 3:
                self.setx(where, 'trusted.overlay.origin', b'\0\xfb\x21' * 7,
                          'pair shared by 3')
        # inline limits with xattrs: ibody 12 + entry(4 + 1 + 20 -> 28)
        for bs in BLOCK_SIZES:
            for isize in (COMPACT, EXTENDED):
                for d2 in range(isize + 40 - 2, isize + 40 + 3):
                    rel = '%s/inline/b%d-i%d-d%d' % (d, bs, isize, d2)
                    self.file(rel, bs + bs - d2)
                    self.setx(rel, 'user.t', self.data(20),
                              'inline limit with xattrs')
                    self.times[os.fsencode(rel)] = (
                        self.build_time + (isize == EXTENDED)) * 10**9
        # a hardlinked file keeps its xattrs once
        self.setx('links/g5-1', 'user.linked', b'five names',
                  'xattr on a hardlinked file')

    def caps(self, d):
        # v2: magic 0x02000000 | effective, then permitted/inheritable x2
        v2 = struct.pack('<IIIII', 0x02000001, 1 << 13 | 1 << 12, 0, 0, 0)
        self.setx(self.file(d + '/cap-v2', 20), 'security.capability', v2,
                  'security.capability v2')
        # v3 carries the root uid of the user namespace that set it
        v3 = struct.pack('<IIIIII', 0x03000001, 1 << 10, 0, 0, 0, 100000)
        self.setx(self.file(d + '/cap-v3', 21), 'security.capability', v3,
                  'security.capability v3')
        rel = self.file(d + '/cap-setcap', 22)
        if shutil.which('setcap'):
            r = subprocess.run(['setcap', 'cap_net_raw,cap_net_admin+ep',
                                self.p(rel)], capture_output=True)
            if r.returncode:
                self.miss('setcap', r.stderr.decode(errors='replace').strip())

    def acls(self, d):
        rel = self.file(d + '/acl-file', 30)
        os.chmod(self.p(rel), 0o640)
        dacl = self.mkdir(d + '/acl-dir')
        self.file(dacl + '/before-default', 1)
        have = shutil.which('setfacl')
        if have:
            cmds = [['setfacl', '-m', 'u:1234:rwx,g:4321:r-x,u:70000:r--,m::rwx',
                     self.p(rel)],
                    ['setfacl', '-m', 'u:1234:r-x,g::rwx', self.p(dacl)],
                    ['setfacl', '-d', '-m', 'u:1234:rwx,g:99:r-x,o::---',
                     self.p(dacl)]]
            for c in cmds:
                r = subprocess.run(c, capture_output=True)
                if r.returncode:
                    self.miss('ACL ' + ' '.join(c[1:3]),
                              r.stderr.decode(errors='replace').strip())
        else:
            # the kernel's ACL blob: version 2, then (tag, perm, id) records
            def blob(entries):
                return struct.pack('<I', 2) + b''.join(
                    struct.pack('<HHI', t, p, i) for t, p, i in entries)
            und = 0xffffffff
            self.setx(rel, 'system.posix_acl_access',
                      blob([(1, 6, und), (2, 7, 1234), (4, 4, und),
                            (8, 5, 4321), (0x10, 7, und), (0x20, 0, und)]),
                      'access ACL')
            self.setx(dacl, 'system.posix_acl_default',
                      blob([(1, 7, und), (2, 7, 1234), (4, 5, und),
                            (0x10, 7, und), (0x20, 0, und)]), 'default ACL')
        # a file created under a default ACL inherits it
        self.file(dacl + '/inherited', 2)
        self.mkdir(dacl + '/inherited-dir')

    # ---- final metadata ------------------------------------------------
    def default_time(self, rel):
        c = zlib.crc32(rel) ^ (self.seed * 2654435761 & 0xffffffff)
        if c % 3 == 0:
            return self.build_time * 10**9  # fits a compact inode
        return (1000000000 + c % 700000000) * 10**9 + (c * 7919) % 10**9

    def finish(self):
        for rel, (uid, gid) in sorted(self.owners.items()):
            try:
                os.lchown(self.p(rel), uid, gid)
            except OSError as e:
                self.miss('owner %d:%d' % (uid, gid), e)
        # modes after contents: a 0o000 or 0o500 dir must be filled first
        for rel, m in sorted(self.modes.items()):
            os.chmod(self.p(rel), m)
        # times last, children before parents, since creating a child
        # changes its directory's mtime
        failed = set()
        for dirpath, dirnames, filenames in os.walk(self.root,
                                                    topdown=False):
            for name in filenames + dirnames + [None]:
                if name is None:
                    path = dirpath
                else:
                    path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, self.root)
                if rel == b'.':
                    rel = b''
                ns = self.times.get(rel)
                if ns is None:
                    ns = self.default_time(rel)
                try:
                    os.utime(path, ns=(ns, ns), follow_symlinks=False)
                    if os.lstat(path).st_mtime_ns != ns:
                        raise OSError(errno.ERANGE, 'stored as %d.%09d' %
                                      divmod(os.lstat(path).st_mtime_ns,
                                             10**9))
                except OSError as e:
                    key = 'mtime %d.%09d' % divmod(ns, 10**9)
                    if key not in failed:
                        failed.add(key)
                        why = e.strerror or str(e)
                        self.miss(key + ' (' + os.fsdecode(rel) + ')', why)
                        # keep the tree's times representable
                    os.utime(path, ns=(10**18, 10**18),
                             follow_symlinks=False)

    def run(self):
        self.sizes()
        self.dirs()
        self.special()
        self.links()
        self.perms()
        self.timecases()
        self.sparse()
        if self.xattrs:
            self.xattr_cases()
        self.finish()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('dest')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--build-time', type=int, default=1700000000,
                    help='the -T the image will be built with: files with '
                         'this mtime fit compact inodes')
    ap.add_argument('--xattrs', action='store_true',
                    help='add extended attributes and POSIX ACLs')
    ap.add_argument('--huge-size', type=int, default=2 * 1024**3 + 4097,
                    help='size of the mostly-hole file (0: none)')
    ap.add_argument('--small', action='store_true',
                    help='fewer entries in the big directories')
    a = ap.parse_args()
    if os.path.lexists(a.dest) and os.listdir(a.dest):
        sys.exit('gen_tree.py: %s exists and is not empty' % a.dest)
    os.makedirs(a.dest, exist_ok=True)
    old = os.umask(0o022)
    g = Gen(a.dest, a.seed, a.build_time, a.xattrs, a.huge_size, a.small)
    g.run()
    os.umask(old)
    for case, why in g.missing:
        print('not created: %s: %s' % (case, why))


if __name__ == '__main__':
    main()

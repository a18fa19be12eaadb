#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Compare two directory trees entry by entry: the source of an image and
the image mounted (or extracted). Exit 0 when they agree, 1 with one line
per difference otherwise, 2 on usage errors.

Compared for every entry: the set of names, file type, all 12 mode bits,
uid, gid, size, SHA-256 of the content, symlink target, device numbers,
mtime in nanoseconds, link count, hardlink groups (paths sharing an inode
in one tree must share one in the other, and only those), and the full set
of xattrs read without following symlinks (system.posix_acl_* included).

Either tree may be a snapshot written earlier by --save, so that a big
source tree is read once and compared with many images.

Usage: compare_tree.py [OPTIONS] A B
       compare_tree.py --save FILE DIR
"""
import argparse
import errno
import fnmatch
import hashlib
import json
import os
import re
import stat
import sys

FP_TAG = b'sha256:'


def show(rel):
    """A printable form of a path given as bytes."""
    return '/' + rel.decode('utf-8', 'backslashreplace').replace('\n', '\\n')


ZEROES = bytes(1 << 20)
# Holes of files up to this size are read; bigger files are hashed by
# seeking past their holes (SEEK_DATA/SEEK_HOLE) unless --read-holes.
READ_HOLES_MAX = 64 << 20


def sha256_file(path):
    """SHA-256 of the content; holes (SEEK_HOLE) of big files are hashed
    as the zeroes they read as, without reading them."""
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            data, hole = pos, size
            if size > READ_HOLES_MAX:
                try:
                    data = os.lseek(fd, pos, os.SEEK_DATA)
                    hole = os.lseek(fd, data, os.SEEK_HOLE)
                except OSError as e:
                    if e.errno == errno.ENXIO:  # only a hole is left
                        data = hole = size
                    elif e.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                        raise
            data, hole = min(data, size), min(hole, size)
            for off in range(pos, data, len(ZEROES)):
                h.update(ZEROES[:min(len(ZEROES), data - off)])
            pos = data
            while pos < hole:
                b = os.pread(fd, min(1 << 20, hole - pos), pos)
                if not b:
                    raise OSError(errno.EIO, 'short read at %d of %s' %
                                  (pos, os.fsdecode(path)))
                h.update(b)
                pos += len(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def read_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (95, 61):  # EOPNOTSUPP, ENODATA
            return {}
        raise
    out = {}
    for n in names:
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False).hex()
        except OSError as e:
            out[n] = '<error: %s>' % e.strerror
    return out


def scan(top, want_xattrs=True):
    """Every entry of a tree, keyed by its path (bytes) relative to top."""
    top = os.fsencode(top)
    entries = {}
    hashes = {}  # (dev, ino) -> digest: a hardlinked file is read once
    stack = [b'']
    while stack:
        rel = stack.pop()
        path = os.path.join(top, rel) if rel else top
        st = os.lstat(path)
        e = {'mode': st.st_mode, 'uid': st.st_uid, 'gid': st.st_gid,
             'mtime_ns': st.st_mtime_ns, 'nlink': st.st_nlink,
             'ino': '%d:%d' % (st.st_dev, st.st_ino)}
        if stat.S_ISREG(st.st_mode):
            e['size'] = st.st_size
            key = (st.st_dev, st.st_ino)
            if key not in hashes:
                hashes[key] = sha256_file(path)
            e['sha256'] = hashes[key]
        elif stat.S_ISLNK(st.st_mode):
            e['size'] = st.st_size
            e['target'] = os.readlink(path).hex()
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            e['rdev'] = '%d:%d' % (os.major(st.st_rdev),
                                   os.minor(st.st_rdev))
        if want_xattrs:
            e['xattrs'] = read_xattrs(path)
        entries[rel] = e
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(path)):
                stack.append(os.path.join(rel, name) if rel else name)
    return entries


def load(arg, want_xattrs):
    if os.path.isdir(arg):
        return scan(arg, want_xattrs)
    with open(arg) as f:
        data = json.load(f)
    return {bytes.fromhex(k): v for k, v in data['entries'].items()}


def save(path, top):
    entries = scan(top)
    with open(path, 'w') as f:
        json.dump({'top': top, 'entries': {k.hex(): v for k, v in
                                           entries.items()}}, f)


def link_groups(entries):
    """For each non-directory, the sorted paths sharing its inode."""
    by_ino = {}
    for rel, e in entries.items():
        if not stat.S_ISDIR(e['mode']):
            by_ino.setdefault(e['ino'], []).append(rel)
    groups = {}
    for paths in by_ino.values():
        g = tuple(sorted(paths))
        for p in paths:
            groups[p] = g
    return groups


def type_name(mode):
    for test, name in ((stat.S_ISREG, 'file'), (stat.S_ISDIR, 'dir'),
                       (stat.S_ISLNK, 'symlink'), (stat.S_ISCHR, 'chardev'),
                       (stat.S_ISBLK, 'blockdev'), (stat.S_ISFIFO, 'fifo'),
                       (stat.S_ISSOCK, 'socket')):
        if test(mode):
            return name
    return 'type %o' % stat.S_IFMT(mode)


class Comparer:
    def __init__(self, opts):
        self.o = opts
        self.diffs = []

    def diff(self, rel, what):
        self.diffs.append('%s: %s' % (show(rel), what))

    def excluded(self, rel):
        s = rel.decode('utf-8', 'surrogateescape')
        for p in self.o.exclude_path:
            p = p.strip('/')
            if s == p or s.startswith(p + '/'):
                return True
        for r in self.o.exclude_regex:
            # mkfs leaves out a matching directory with all under it
            parts = s.split('/')
            for i in range(1, len(parts) + 1):
                if re.search(r, '/'.join(parts[:i])):
                    return True
        return False

    def xattr_ignored(self, name, rel=None):
        if any(fnmatch.fnmatchcase(name, p) for p in self.o.ignore_xattr):
            return True
        s = rel.decode('utf-8', 'surrogateescape') if rel is not None else ''
        return any(p.strip('/') == s and fnmatch.fnmatchcase(name, g)
                   for p, g in self.o.ignore_xattr_on)

    def check_fingerprint(self, rel, eb):
        """The fingerprint xattr: present exactly on regular files with
        data, holding "sha256:" and the raw digest of the content."""
        name = self.o.fingerprint
        val = eb.get('xattrs', {}).get(name)
        want = None
        if stat.S_ISREG(eb['mode']) and eb['size'] > 0:
            want = (FP_TAG + bytes.fromhex(eb['sha256'])).hex()
        if want != val:
            self.diff(rel, 'fingerprint xattr %s is %s, expected %s' %
                      (name, val, want))

    def compare_entry(self, rel, a, b, ga, gb):
        o = self.o
        ta, tb = stat.S_IFMT(a['mode']), stat.S_IFMT(b['mode'])
        if ta != tb:
            self.diff(rel, 'type %s != %s' % (type_name(a['mode']),
                                               type_name(b['mode'])))
            return
        is_root = rel == b''
        skip_root = is_root and o.ignore_root_meta
        if not skip_root and stat.S_IMODE(a['mode']) != \
                stat.S_IMODE(b['mode']):
            self.diff(rel, 'mode %04o != %04o' % (stat.S_IMODE(a['mode']),
                                                  stat.S_IMODE(b['mode'])))
        if not skip_root:
            self.compare_owner(rel, a, b)
        if not o.ignore_mtime and not skip_root:
            if o.expect_mtime is not None:
                want = o.expect_mtime * 10**9
            elif o.fit_mtime is not None:
                # 48-bit compact inodes: seconds after the epoch kept
                epoch, build = o.fit_mtime
                sec = a['mtime_ns'] // 10**9
                want = (sec if epoch <= sec <= epoch + 0xffffffff
                        else build) * 10**9
            elif o.clamp_mtime is not None:
                want = min(a['mtime_ns'], o.clamp_mtime * 10**9)
            else:
                want = a['mtime_ns']
            if b['mtime_ns'] != want:
                self.diff(rel, 'mtime %s != %s' % (fmt_ns(want),
                                                   fmt_ns(b['mtime_ns'])))
        for k in ('size', 'sha256', 'rdev'):
            if k in a and a.get(k) != b.get(k):
                self.diff(rel, '%s %s != %s' % (k, a.get(k), b.get(k)))
        if 'target' in a and a['target'] != b.get('target'):
            self.diff(rel, 'symlink target %s != %s' %
                      (short_bytes(a['target']),
                       short_bytes(b.get('target', ''))))
        if not stat.S_ISDIR(a['mode']) and o.hard_dereference:
            # every name its own inode
            if b['nlink'] != 1 or len(gb.get(rel, ())) > 1:
                self.diff(rel, 'link count %d, hardlink group %s, '
                          'expected a single link' %
                          (b['nlink'], [show(p) for p in gb.get(rel, ())]))
        elif not stat.S_ISDIR(a['mode']):
            if ga.get(rel) != gb.get(rel):
                self.diff(rel, 'hardlink group %s != %s' % (
                    [show(p) for p in ga.get(rel, ())],
                    [show(p) for p in gb.get(rel, ())]))
            # the image's count must match the names it holds
            if b['nlink'] != len(gb.get(rel, ())):
                self.diff(rel, 'link count %d, but %d names' %
                          (b['nlink'], len(gb.get(rel, ()))))
        elif not o.ignore_dir_nlink:
            # ".", the name in its parent, and each subdirectory's ".."
            want = 2 + self.subdirs.get(rel, 0)
            if b['nlink'] != want:
                self.diff(rel, 'directory link count %d, expected %d' %
                          (b['nlink'], want))
        if o.fingerprint:
            self.check_fingerprint(rel, b)
        self.compare_xattrs(rel, a, b)

    def compare_owner(self, rel, a, b):
        o = self.o
        for k, force, off in (('uid', o.expect_uid, o.uid_offset),
                              ('gid', o.expect_gid, o.gid_offset)):
            want = force if force is not None else \
                (a[k] + off) & 0xffffffff
            if b[k] != want:
                self.diff(rel, '%s %d != %d' % (k, want, b[k]))

    def compare_xattrs(self, rel, a, b):
        o = self.o
        if o.no_xattrs:
            return
        xb = {k: v for k, v in b.get('xattrs', {}).items()
              if not self.xattr_ignored(k, rel) and k != o.fingerprint}
        if o.expect_no_xattrs:
            if xb:
                self.diff(rel, 'xattrs present: %s' % sorted(xb))
            return
        if 'xattrs' not in a:
            return
        xa = {k: v for k, v in a['xattrs'].items()
              if not self.xattr_ignored(k, rel) and k != o.fingerprint}
        for k in sorted(set(xa) | set(xb)):
            if k not in xb:
                self.diff(rel, 'xattr %s missing' % k)
            elif k not in xa:
                self.diff(rel, 'xattr %s unexpected (%s)' % (k, short(xb[k])))
            elif xa[k] != xb[k]:
                self.diff(rel, 'xattr %s value %s != %s' %
                          (k, short(xa[k]), short(xb[k])))

    def run(self, A, B):
        A = {k: v for k, v in A.items() if not (k and self.excluded(k))}
        self.subdirs = {}
        for k, v in A.items():
            if k and stat.S_ISDIR(v['mode']):
                parent = os.path.dirname(k)
                self.subdirs[parent] = self.subdirs.get(parent, 0) + 1
        ga, gb = link_groups(A), link_groups(B)
        for rel in sorted(set(A) | set(B)):
            if rel not in B:
                self.diff(rel, 'only in %s' % self.o.a)
            elif rel not in A:
                self.diff(rel, 'only in %s' % self.o.b)
            else:
                self.compare_entry(rel, A[rel], B[rel], ga, gb)
        return len(A), len(B)


def short(h):
    return h if len(h) <= 80 else h[:80] + '...(%d bytes)' % (len(h) // 2)


def short_bytes(h):
    b = bytes.fromhex(h)
    return repr(b) if len(b) <= 60 else '%r...(%d bytes)' % (b[:60], len(b))


def fmt_ns(ns):
    s, n = divmod(ns, 10**9)
    return '%d.%09d' % (s, n)


def self_test(work):
    """The judge must be able to fail: build a small tree, copy it with one
    thing changed, and check that exactly that kind of difference is
    reported. Prints PASS/FAIL lines; returns the number of failures."""
    import shutil
    import subprocess
    a, b = os.path.join(work, 'a'), os.path.join(work, 'b')
    T = 1000000000 * 10**9 + 5 * 10**8

    def retime(top, *rels):
        for r in rels:
            os.utime(os.path.join(top, r), ns=(T, T), follow_symlinks=False)

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(a, 'd'))
    with open(os.path.join(a, 'f'), 'wb') as f:
        f.write(b'content')
    with open(os.path.join(a, 'd/g'), 'wb') as f:
        f.write(b'other')
    os.link(os.path.join(a, 'f'), os.path.join(a, 'd/hard'))
    os.symlink('f', os.path.join(a, 'l'))
    os.mknod(os.path.join(a, 'c'), stat.S_IFCHR | 0o600, os.makedev(1, 3))
    os.setxattr(os.path.join(a, 'f'), 'user.x', b'1')
    retime(a, 'f', 'l', 'c', 'd/g', 'd', '')

    def content(b):
        with open(os.path.join(b, 'f'), 'r+b') as f:
            f.write(b'C')

    def symlink(b):
        os.unlink(os.path.join(b, 'l'))
        os.symlink('g', os.path.join(b, 'l'))
        retime(b, 'l')

    def rdev(b):
        os.unlink(os.path.join(b, 'c'))
        os.mknod(os.path.join(b, 'c'), stat.S_IFCHR | 0o600,
                 os.makedev(1, 5))
        retime(b, 'c')

    def hardlink(b):
        os.unlink(os.path.join(b, 'd/hard'))
        shutil.copy2(os.path.join(b, 'f'), os.path.join(b, 'd/hard'))

    def extra(b):
        open(os.path.join(b, 'd/new'), 'w').close()
        retime(b, 'd/new')

    cases = [
        ('content', 'sha256', content),
        ('mode bit', 'mode', lambda b: os.chmod(os.path.join(b, 'd/g'),
                                                 0o4644)),
        ('mtime ns', 'mtime', lambda b: os.utime(
            os.path.join(b, 'l'), ns=(T + 1, T + 1), follow_symlinks=False)),
        ('owner', 'uid', lambda b: os.lchown(os.path.join(b, 'l'), 1, 0)),
        ('symlink target', 'symlink target', symlink),
        ('rdev', 'rdev', rdev),
        ('hardlink', 'hardlink group|link count', hardlink),
        ('extra name', 'only in', extra),
        ('xattr value', 'xattr user.x', lambda b: os.setxattr(
            os.path.join(b, 'f'), 'user.x', b'2')),
        ('missing xattr', 'xattr user.x', lambda b: os.removexattr(
            os.path.join(b, 'f'), 'user.x')),
        (None, None, lambda b: None),
    ]
    o = argparse.Namespace(
        a='A', b='B', expect_mtime=None, clamp_mtime=None,
        ignore_mtime=False, fit_mtime=None, hard_dereference=False,
        expect_uid=None, expect_gid=None, uid_offset=0,
        gid_offset=0, no_xattrs=False, expect_no_xattrs=False,
        ignore_xattr=[], ignore_xattr_on=[], fingerprint=None,
        exclude_path=[], exclude_regex=[], ignore_root_meta=False,
        ignore_dir_nlink=False)
    failures = 0
    A = scan(a)
    for name, kind, change in cases:
        shutil.rmtree(b, ignore_errors=True)
        subprocess.run(['cp', '-a', a, b], check=True)
        change(b)
        retime(b, 'f', 'd', '')
        c = Comparer(o)
        c.run(A, scan(b))
        if name is None:
            ok, why = not c.diffs, '; '.join(c.diffs)
            name = 'accepts an exact copy'
        else:
            ok = c.diffs and all(re.search(': (%s)' % kind, d)
                                 for d in c.diffs)
            why = '; '.join(c.diffs) or 'no difference found'
            name = 'detects ' + name
        if ok:
            print('PASS: compare_tree %s' % name)
        else:
            print('FAIL: compare_tree %s: %s' % (name, why))
            failures += 1
    shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    ap = argparse.ArgumentParser(
        description='Compare two trees (directories or --save snapshots).')
    ap.add_argument('a', nargs='?')
    ap.add_argument('b', nargs='?')
    ap.add_argument('--save', metavar='FILE',
                    help='scan A and write a snapshot to FILE')
    ap.add_argument('--expect-mtime', type=int, metavar='T',
                    help="B's mtimes must all be T seconds, 0 ns")
    ap.add_argument('--clamp-mtime', type=int, metavar='T',
                    help="B's mtimes must be A's, but at most T seconds")
    ap.add_argument('--ignore-mtime', action='store_true')
    ap.add_argument('--fit-mtime', type=int, nargs=2,
                    metavar=('EPOCH', 'T'),
                    help='mtimes in [EPOCH, EPOCH + 2^32) keep their '
                    'seconds, the others become T; nanoseconds 0')
    ap.add_argument('--hard-dereference', action='store_true',
                    help='every non-directory has one link, hardlinks '
                    'of A included')
    ap.add_argument('--expect-uid', type=int, metavar='N')
    ap.add_argument('--expect-gid', type=int, metavar='N')
    ap.add_argument('--uid-offset', type=int, default=0, metavar='N')
    ap.add_argument('--gid-offset', type=int, default=0, metavar='N')
    ap.add_argument('--no-xattrs', action='store_true',
                    help='do not compare xattrs')
    ap.add_argument('--expect-no-xattrs', action='store_true',
                    help='B must have no xattrs (those ignored aside)')
    ap.add_argument('--ignore-xattr', action='append', default=[],
                    metavar='GLOB', help='leave xattrs matching GLOB out')
    ap.add_argument('--ignore-xattr-on', nargs=2, action='append',
                    default=[], metavar=('PATH', 'GLOB'),
                    help='leave xattrs matching GLOB of PATH out')
    ap.add_argument('--fingerprint', metavar='NAME',
                    help='B must hold the content fingerprint xattr NAME on '
                         'every regular file with data (and nowhere else)')
    ap.add_argument('--exclude-path', action='append', default=[],
                    metavar='PATH', help='A entries B must not have')
    ap.add_argument('--exclude-regex', action='append', default=[],
                    metavar='RE', help='A entries B must not have')
    ap.add_argument('--ignore-root-meta', action='store_true',
                    help="do not compare the root directory's mode, owner "
                         'and mtime')
    ap.add_argument('--ignore-dir-nlink', action='store_true')
    ap.add_argument('--read-holes', action='store_true',
                    help='read the holes of files over 64 MiB too, rather '
                         'than seek past them')
    ap.add_argument('--max-diffs', type=int, default=40)
    ap.add_argument('-q', '--quiet', action='store_true')
    ap.add_argument('--self-test', metavar='DIR',
                    help='check that differences are found, in scratch DIR')
    o = ap.parse_args()
    if o.self_test:
        return 1 if self_test(o.self_test) else 0
    if o.save:
        if not o.a or o.b:
            ap.error('--save FILE DIR')
        save(o.save, o.a)
        return 0
    if not o.a or not o.b:
        ap.error('two trees needed')
    global READ_HOLES_MAX
    if o.read_holes:
        READ_HOLES_MAX = 1 << 63
    want_x = not o.no_xattrs
    A = load(o.a, want_x)
    B = load(o.b, want_x or o.fingerprint)
    c = Comparer(o)
    na, nb = c.run(A, B)
    for d in c.diffs[:o.max_diffs]:
        print('DIFF ' + d)
    if len(c.diffs) > o.max_diffs:
        print('... %d more differences' % (len(c.diffs) - o.max_diffs))
    if not o.quiet or c.diffs:
        print('compare_tree: %d entries vs %d, %d differences' %
              (na, nb, len(c.diffs)))
    return 1 if c.diffs else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile images: fsck.erofs and dump.erofs stay within bounds of time,
memory and recursion whatever an image claims. Images from our mkfs are
patched into directory cycles (an entry naming its own directory, an
ancestor, a directory linked twice, a '..' pointing down), nesting deeper
than the walk follows, exabytes of holes, counts and sizes far beyond the
image (xattr areas, shared xattr ids, directories, chunk tables, lcluster
indexes, extent lengths) and superblocks whose root or packed inode is
something else. Every tool run must end within a time limit, without a
signal or a sanitizer report, without running out of memory (an address
space limit is set where the binaries are not sanitized) and with the exit
status the damage calls for."""
import os
import resource
import struct
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, Image, exit_status,  # noqa: E402
                       nid_of, result)

TIME_LIMIT = 60  # seconds per tool run; sanitized builds need most of it
MEM_LIMIT = 2 << 30  # address space of unsanitized tools
FT_REG, FT_DIR = 1, 2


def sanitized(path):
    """Sanitizer runtimes reserve terabytes of address space: no limit."""
    with open(path, 'rb') as f:
        data = f.read()
    return b'__asan_init' in data or b'__ubsan_handle' in data


LIMIT_AS = not any(sanitized(p) for p in (FSCK, DUMP))


def limit_memory():
    if LIMIT_AS:
        resource.setrlimit(resource.RLIMIT_AS, (MEM_LIMIT, MEM_LIMIT))


def run(cmd):
    """(exit status or None on timeout, output, seconds)."""
    start = time.time()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIME_LIMIT,
                           preexec_fn=limit_memory)
    except subprocess.TimeoutExpired:
        return None, '', time.time() - start
    out = (p.stdout + p.stderr).decode('utf-8', 'replace')
    return p.returncode, out, time.time() - start


def bad_end(rc, out):
    """Why a run ended in a way no input may cause, or None."""
    if rc is None:
        return 'did not finish within %d s' % TIME_LIMIT
    if rc < 0 or rc >= 128:
        return 'killed by signal %d' % (-rc if rc < 0 else rc - 128)
    for word in ('Sanitizer', 'runtime error', 'Cannot allocate memory',
                 'out of memory'):
        if word in out:
            return 'reported "%s"' % word
    return None


def rmtree(path):
    # deeper than Python's recursion limit
    subprocess.run(['rm', '-rf', '--one-file-system', path])


def first_lines(out, n=3):
    return ' / '.join(out.strip().splitlines()[:n])


def judge(work, name, img_bytes, fsck_bits, grep=None, paths=('/',),
          nids=()):
    """Run every tool on the image. fsck must exit with exactly the bits
    "fsck_bits" (4 corrupt, 8 not checked) and print "grep" if given;
    the other tools only need to end well."""
    img = os.path.join(work, 'hostile.img')
    with open(img, 'wb') as f:
        f.write(img_bytes)
    xdir = os.path.join(work, 'x')
    rmtree(xdir)
    runs = [('fsck', [FSCK, img]),
            ('fsck --extract', [FSCK, '--extract=' + xdir, img]),
            ('dump -s -S', [DUMP, '-s', '-S', img])]
    for p in paths:
        runs.append(('dump --ls ' + p, [DUMP, '--ls', '--path=' + p, img]))
        runs.append(('dump -e ' + p, [DUMP, '-e', '--path=' + p, img]))
    for n in nids:
        runs.append(('dump --nid=%d' % n, [DUMP, '--nid=%d' % n, img]))
    why = []
    for label, cmd in runs:
        rc, out, secs = run(cmd)
        bad = bad_end(rc, out)
        if bad:
            why.append('%s: %s (%.0f s) | %s' % (label, bad, secs,
                                               first_lines(out)))
            continue
        if label == 'fsck':
            if rc != fsck_bits:
                why.append('fsck: exit %d, expected %d | %s' %
                           (rc, fsck_bits, first_lines(out)))
            elif grep and grep not in out:
                why.append('fsck: no "%s" in: %s' % (grep, first_lines(out)))
    rmtree(xdir)
    result(not why, name, '; '.join(why))


def mkfs(img, src, *opts):
    p = subprocess.run([MKFS, '--quiet', '-T1700000000', '--mkfs-time'] +
                       list(opts) +
                       [img, src], capture_output=True)
    if p.returncode:
        raise RuntimeError('mkfs %s: %s' % (' '.join(opts),
                                           p.stderr.decode()[-300:]))


def inode_field(im, nid, off, fmt, value):
    struct.pack_into(fmt, im.b, im.iloc(nid) + off, value)


def set_layout(im, nid, layout):
    """Rewrite the data layout bits of i_format."""
    p = im.iloc(nid)
    fmt = struct.unpack_from('<H', im.b, p)[0]
    struct.pack_into('<H', im.b, p, (fmt & ~0xe) | layout << 1)


def make_source(d):
    os.makedirs(os.path.join(d, 'a/b/c'))
    os.makedirs(os.path.join(d, 'twice'))
    with open(os.path.join(d, 'a/b/c/zz-to-ancestor'), 'w') as f:
        f.write('x\n')
    with open(os.path.join(d, 'a/b/zz-to-self'), 'w') as f:
        f.write('y\n')
    with open(os.path.join(d, 'twice/zz-second-link'), 'w') as f:
        f.write('z\n')
    with open(os.path.join(d, 'big-hole'), 'wb') as f:
        f.write(b'data')
    # an extended inode (64-bit size): an mtime far from the build time
    os.utime(os.path.join(d, 'big-hole'), (1000, 1000))
    with open(os.path.join(d, 'text'), 'wb') as f:
        f.write(b''.join(b'line %d of compressible text\n' % i
                         for i in range(8000)))
    with open(os.path.join(d, 'sparse'), 'wb') as f:
        f.write(b'head')
        f.truncate(64 << 10)
        f.seek(192 << 10)
        f.write(b'tail')
    os.utime(os.path.join(d, 'sparse'), (1000, 1000))
    with open(os.path.join(d, 'xattrs'), 'w') as f:
        f.write('has xattrs\n')
    try:
        os.setxattr(os.path.join(d, 'xattrs'), 'user.one', b'1')
        for i in range(3):
            name = os.path.join(d, 'shared-%d' % i)
            with open(name, 'w') as f:
                f.write('%d\n' % i)
            os.setxattr(name, 'user.common', b'the same value')
    except OSError:
        pass


def deep_tar(path, depth):
    """A tar archive of directories nested "depth" levels deep."""
    with tarfile.open(path, 'w', format=tarfile.PAX_FORMAT) as t:
        name = ''
        for _ in range(depth):
            name += 'd/'
            info = tarfile.TarInfo(name.rstrip('/'))
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = 1700000000
            t.addfile(info)
        info = tarfile.TarInfo(name + 'leaf')
        info.size = 0
        info.mtime = 1700000000
        t.addfile(info)


def sibling_dirent(im, name, want):
    """Offset of the dirent named "want" in the dirent array holding
    "name" (in a block of its own or inline after an inode)."""
    d = im.dirent_of_name(name)
    for i in range(0, 64):
        base = d - 12 * i
        first = struct.unpack_from('<H', im.b, base + 8)[0]
        if first != 12 * (i + 1 + (first // 12 - i - 1)) or first <= 12 * i:
            continue
        count = first // 12
        names = []
        for k in range(count):
            off = struct.unpack_from('<H', im.b, base + 12 * k + 8)[0]
            end = (struct.unpack_from('<H', im.b, base + 12 * k + 20)[0]
                   if k + 1 < count else off + 255)
            names.append(bytes(im.b[base + off:base + end]).split(b'\0')[0])
        if names and names[0] == b'.' and name in names:
            for k, n in enumerate(names):
                if n == want:
                    return base + 12 * k
    return None


def full_index_pos(im, nid):
    """Where the first lcluster index of a full-index compressed inode is."""
    _, _, _, _, isize, xsize = im.inode(nid)
    hpos = im.iloc(nid) + isize + xsize
    hpos = (hpos + 7) & ~7
    return hpos + 16


def cases(work):
    src = os.path.join(work, 'src')
    make_source(src)
    base_img = os.path.join(work, 'base.img')
    mkfs(base_img, src)
    nid = {p: nid_of(DUMP, base_img, p) for p in
           ('/a', '/a/b', '/twice', '/big-hole', '/xattrs', '/text')}

    # ---- directory cycles ----------------------------------------------
    im = Image(base_img)
    im.set_dirent_nid(b'zz-to-self', nid['/a/b'], FT_DIR)
    im.fix_checksum()
    judge(work, 'entry naming its own directory', im.b, 4,
          'reached a second time', paths=('/a/b', '/a/b/zz-to-self'))

    im = Image(base_img)
    im.set_dirent_nid(b'zz-to-ancestor', nid['/a'], FT_DIR)
    im.fix_checksum()
    judge(work, 'entry naming an ancestor', im.b, 4,
          'reached a second time',
          paths=('/a/b/c/zz-to-ancestor/b/c/zz-to-ancestor',),
          nids=(nid['/a'],))

    im = Image(base_img)
    im.set_dirent_nid(b'zz-second-link', nid['/a'], FT_DIR)
    im.fix_checksum()
    judge(work, 'directory linked from two places', im.b, 4,
          'reached a second time', paths=('/twice/zz-second-link',))

    im = Image(base_img)
    im.set_dirent_nid(b'zz-to-ancestor', im.root_nid, FT_DIR)
    im.fix_checksum()
    judge(work, 'entry naming the root', im.b, 4, 'reached a second time',
          nids=(im.root_nid,))

    # '..' of /a/b pointing down to /a/b/c: lookups through '..' end
    im = Image(base_img)
    c_nid = nid_of(DUMP, base_img, '/a/b/c')
    d = sibling_dirent(im, b'zz-to-self', b'..')
    if d is not None:
        struct.pack_into('<Q', im.b, d, c_nid)
        im.fix_checksum()
        judge(work, "'..' pointing to a child", im.b, 4, "'..' points",
              paths=('/a/b/../../b/..' * 20,))
    else:
        result(False, "'..' pointing to a child", 'no .. entry in /a/b')

    # ---- nesting deeper than the walk follows --------------------------
    tarpath = os.path.join(work, 'deep.tar')
    deep_tar(tarpath, 2100)
    deep_img = os.path.join(work, 'deep.img')
    p = subprocess.run([MKFS, '--quiet', '--tar=f', '-T1700000000',
                        deep_img, tarpath], capture_output=True)
    if p.returncode:
        result(False, 'nesting deeper than 2048 levels',
               'mkfs: ' + p.stderr.decode()[-300:])
    else:
        with open(deep_img, 'rb') as f:
            judge(work, 'nesting deeper than 2048 levels', f.read(), 8,
                  'deeper than 2048', paths=('/d/d/d/d',))

    # ---- sizes and counts beyond the image -----------------------------
    im = Image(base_img)
    n = nid['/big-hole']
    if not im.inode(n)[0] & 1:
        result(False, 'exabytes of holes', '/big-hole is not extended')
    else:
        set_layout(im, n, 0)  # flat, no tail
        inode_field(im, n, 6, '<H', 0xffff)  # i_nb: no block either
        inode_field(im, n, 8, '<Q', 1 << 60)  # i_size
        inode_field(im, n, 16, '<I', 0xffffffff)  # i_u: null address
        im.fix_checksum()
        judge(work, 'exabytes of holes', im.b, 0,
              paths=('/big-hole',), nids=(n,))

    ish_img = os.path.join(work, 'ishare.img')
    mkfs(ish_img, src, '--ishare')
    im = Image(ish_img)
    n = nid_of(DUMP, ish_img, '/big-hole')
    if not im.inode(n)[0] & 1:
        raise RuntimeError('/big-hole is not an extended inode')
    set_layout(im, n, 0)
    inode_field(im, n, 6, '<H', 0xffff)
    inode_field(im, n, 8, '<Q', 1 << 60)
    inode_field(im, n, 16, '<I', 0xffffffff)
    im.fix_checksum()
    judge(work, 'exabytes of holes behind a fingerprint', im.b, 8,
          'fingerprint not verified', paths=('/big-hole',))

    im = Image(base_img)
    n = nid['/xattrs']
    inode_field(im, n, 2, '<H', 0xffff)  # i_xattr_icount
    im.fix_checksum()
    judge(work, 'xattr area of 256 KiB', im.b, 4, 'past the end',
          paths=('/xattrs',), nids=(n,))

    im = Image(base_img)
    _, _, _, _, isize, xsize = im.inode(n)
    if xsize:
        im.b[im.iloc(n) + isize + 4] = 255  # h_shared_count
        im.fix_checksum()
        judge(work, '255 shared xattr ids in a small area', im.b, 4,
              'shared xattr ids', paths=('/xattrs',))
    else:
        result(True, '255 shared xattr ids in a small area (no xattrs here)')

    im = Image(base_img)
    fmt = struct.unpack_from('<H', im.b, im.iloc(nid['/a']))[0]
    inode_field(im, nid['/a'], 8, '<Q' if fmt & 1 else '<I',
                (1 << 62) if fmt & 1 else 0xffffffff)
    im.fix_checksum()
    judge(work, 'directory claiming gigabytes', im.b, 4,
          paths=('/a', '/a/b'))

    # a chunk-based file whose chunk table would be 2^40 entries
    im = Image(base_img)
    n = nid_of(DUMP, base_img, '/sparse')
    if (im.inode(n)[0] >> 1) & 7 == 4 and im.inode(n)[0] & 1:
        inode_field(im, n, 8, '<Q', 1 << 52)
        im.fix_checksum()
        judge(work, 'chunk table of 2^40 entries', im.b, 4,
              'chunk table lies past the end', paths=('/sparse',))
    else:
        result(False, 'chunk table of 2^40 entries',
               '/sparse is not an extended chunk-based inode')

    # ---- compressed maps -----------------------------------------------
    zimg = os.path.join(work, 'z.img')
    try:
        mkfs(zimg, src, '-zlz4', '-Elegacy-compress')
    except RuntimeError as e:
        result(True, 'compressed cases skipped: ' + str(e)[:80])
        return
    zn = nid_of(DUMP, zimg, '/text')
    im = Image(zimg)
    if (im.inode(zn)[0] >> 1) & 7 != 1:
        result(False, 'compressed maps', '/text has no full indexes')
        return
    isext = im.inode(zn)[0] & 1
    im = Image(zimg)
    inode_field(im, zn, 8, '<Q' if isext else '<I',
                (1 << 50) if isext else 0xffffffff)
    im.fix_checksum()
    judge(work, 'compressed file claiming 2^50 bytes', im.b, 4,
          paths=('/text',))

    idx = full_index_pos(Image(zimg), zn)
    im = Image(zimg)
    # lcluster 1 as a NONHEAD looking back 0 lclusters: no progress
    struct.pack_into('<HHHH', im.b, idx + 8, 1, 0, 0, 1)
    im.fix_checksum()
    judge(work, 'lcluster index looking back 0 lclusters', im.b, 4,
          paths=('/text',))

    im = Image(zimg)
    # every lcluster a head of its own at the same physical cluster
    first = struct.unpack_from('<I', im.b, idx + 4)[0]
    for k in range(1, 8):
        struct.pack_into('<HHI', im.b, idx + 8 * k, 0, 0, first)
    im.fix_checksum()
    judge(work, 'extents overlapping in one physical cluster', im.b, 4,
          paths=('/text',))

    im = Image(zimg)
    # a NONHEAD whose lookback reaches before the file
    struct.pack_into('<HHHH', im.b, idx + 8, 1, 0, 0x7fff, 1)
    im.fix_checksum()
    judge(work, 'lcluster index looking back past the start', im.b, 4,
          paths=('/text',))

    # ---- superblocks pointing at the wrong inode ------------------------
    im = Image(base_img)
    struct.pack_into('<H', im.b, 1024 + 14, nid['/text'])
    im.fix_checksum()
    judge(work, 'root nid naming a regular file', im.b, 4, 'root')

    im = Image(zimg)
    im_root = im.root_nid
    incompat = struct.unpack_from('<I', im.b, 1024 + 0x50)[0]
    struct.pack_into('<I', im.b, 1024 + 0x50, incompat | 0x20)
    struct.pack_into('<Q', im.b, 1024 + 0x60, im_root)  # packed_nid
    im.fix_checksum()
    judge(work, 'packed inode naming the root directory', im.b, 4,
          'packed inode is not a regular file')


def main():
    for tool in (MKFS, FSCK, DUMP):
        if not os.access(tool, os.X_OK):
            print('SKIP: hostile images: %s is not built' % tool)
            return 0
    work = tempfile.mkdtemp(prefix='erofs-hostile.')
    try:
        cases(work)
    finally:
        rmtree(work)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

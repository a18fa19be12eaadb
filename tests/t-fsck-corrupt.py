#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fsck.erofs on damaged images: chosen damage to the superblock, an inode,
a directory block, xattrs, file data and the image size must each be
reported as corruption (exit status with bit 4) naming the place; then
many randomly damaged images (FSCK_FUZZ_COUNT, default 300) must end with
an allowed exit status, no signal, no sanitizer report and no hang, also
when extracting (nothing may appear outside the extraction directory) and
for dump.erofs.

What cannot be detected is said so: without fingerprints a changed byte of
file data is invisible (EROFS records no data checksums), and the test
asserts exactly that rather than pretending otherwise."""
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, Image, exit_status,  # noqa: E402
                       nid_of, result)

COUNT = int(os.environ.get('FSCK_FUZZ_COUNT', '300'))
ALLOWED = {0, 4, 8, 12}


def run(args, timeout=120):
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'timed out after %d s' % timeout
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def sanitizer_report(out):
    return 'Sanitizer' in out or 'runtime error:' in out


def make_source(d):
    os.makedirs(os.path.join(d, 'big'))
    os.makedirs(os.path.join(d, 'sub/deeper'))
    for i in range(300):
        with open(os.path.join(d, 'big', 'entry-%04d-%s' % (i, 'q' * (i % 23))),
                  'w') as f:
            f.write('small file %d\n' % i)
    rnd = random.Random(7)
    with open(os.path.join(d, 'data.bin'), 'wb') as f:
        f.write(rnd.randbytes(200000))
    with open(os.path.join(d, 'sub/deeper/tail'), 'wb') as f:
        f.write(rnd.randbytes(5000))
    with open(os.path.join(d, 'sparse'), 'wb') as f:
        f.truncate(3 << 20)
        f.seek(2 << 20)
        f.write(rnd.randbytes(10000))
    os.symlink('data.bin', os.path.join(d, 'link'))
    os.link(os.path.join(d, 'data.bin'), os.path.join(d, 'sub/hardlink'))
    os.mkfifo(os.path.join(d, 'fifo'))
    try:
        os.setxattr(os.path.join(d, 'data.bin'), 'user.note', b'some value')
        for i in range(4):
            os.setxattr(os.path.join(d, 'big', 'entry-%04d-%s' % (i, 'q' * i)),
                        'user.shared', b'one value for all')
    except OSError:
        pass


def data_extent(img, path):
    """Image byte range of the first block-stored extent of "path"."""
    rc, out = run([DUMP, '-e', '--path=' + path, img])
    for line in out.splitlines():
        f = line.split()
        if len(f) == 5 and f[4] == 'data':
            a, b = f[3].split('..')
            return int(a), int(b)
    raise RuntimeError('no data extent for %s: %s' % (path, out))


def expect_corrupt(name, data, args=(), want=None, work=None):
    path = os.path.join(work, 'c.img')
    with open(path, 'wb') as f:
        f.write(data)
    rc, out = run([FSCK] + list(args) + [path])
    if rc is None or rc < 0 or sanitizer_report(out):
        result(False, name, 'crash or hang: %s' % out[-300:])
    elif not rc & 4:
        result(False, name, 'exit %s, expected corruption (4): %s' %
               (rc, out.strip().splitlines()[:2]))
    elif want and want not in out:
        result(False, name, 'message lacks "%s": %s' %
               (want, out.strip().splitlines()[:3]))
    else:
        result(True, name)


def chosen_damage(work, img_plain, img_fp):
    fsck_ok = run([FSCK, img_fp])[0] == 0 and run([FSCK, img_plain])[0] == 0
    result(fsck_ok, 'undamaged images are clean')
    base = Image(img_fp)
    blksz = base.blksz

    # superblock
    b = bytearray(base.b)
    b[1024 + 0x24] ^= 0x10  # the block count
    expect_corrupt('superblock byte flip fails the checksum', b,
                   want='checksum', work=work)
    b = bytearray(base.b)
    b[1024] ^= 0xff
    expect_corrupt('superblock magic damaged (--no-sbcrc)', b,
                   args=['--no-sbcrc'], want='magic', work=work)
    im = Image(img_fp)
    struct.pack_into('<I', im.b, 1024 + 0x28, im.meta_blkaddr + 1)
    im.fix_checksum()
    expect_corrupt('superblock points inodes elsewhere', im.b, work=work)
    im = Image(img_fp)
    struct.pack_into('<I', im.b, 1024 + 0x50, im.incompat | 0x8000)
    im.fix_checksum()
    path = os.path.join(work, 'c.img')
    with open(path, 'wb') as f:
        f.write(im.b)
    rc, out = run([FSCK, path])
    result(rc == 8 and 'unknown incompatible features 0x8000' in out,
           'unknown incompatible feature refused by value',
           'exit %s: %s' % (rc, out.strip()[:200]))

    # inodes
    im = Image(img_fp)
    nid = nid_of(DUMP, img_fp, '/sub/deeper/tail')
    p = im.iloc(nid)
    struct.pack_into('<H', im.b, p + 4, 0o170644)
    expect_corrupt('inode with a bogus file type', im.b,
                   want='/sub/deeper/tail', work=work)
    im = Image(img_fp)
    struct.pack_into('<H', im.b, im.iloc(im.root_nid) + 4, 0o100644)
    expect_corrupt('root inode that is not a directory', im.b,
                   want='root', work=work)
    im = Image(img_fp)
    fmt, mode, size, i_u, isize, xsize = im.inode(nid)
    if (fmt >> 1) & 7 == 2:  # inline: a tail of blksz - 1 must cross
        grown = size // blksz * blksz + blksz - 1
        struct.pack_into('<Q' if isize == 64 else '<I', im.b,
                         im.iloc(nid) + 8, grown)
        expect_corrupt('inline tail made to cross a block', im.b,
                       want='crosses a block boundary', work=work)
    else:
        result(False, 'inline tail made to cross a block',
               '/sub/deeper/tail is not inline (layout %d)' % ((fmt >> 1) & 7))
    im = Image(img_fp)
    nid = nid_of(DUMP, img_fp, '/data.bin')
    p = im.iloc(nid)
    fmt, mode, size, i_u, isize, xsize = im.inode(nid)
    struct.pack_into('<I', im.b, p + 16, len(im.b) // blksz)  # start block
    expect_corrupt('file data pointed past the end', im.b,
                   want='/data.bin', work=work)
    if xsize:
        im = Image(img_fp)
        im.b[p + isize + 4] = 255  # h_shared_count
        expect_corrupt('xattr area claiming 255 shared xattrs', im.b,
                       want='xattr', work=work)

    # directory blocks
    im = Image(img_fp)
    d = im.dirent_of_name(b'entry-0150-')
    struct.pack_into('<H', im.b, d + 8,
                     struct.unpack_from('<H', im.b, d + 8)[0] - 1)
    expect_corrupt('dirent name offset moved', im.b, want='/big', work=work)
    im = Image(img_fp)
    im.b[im.dirent_of_name(b'entry-0151-') + 10] = 9
    expect_corrupt('dirent with an unknown file type', im.b, want='/big',
                   work=work)
    im = Image(img_fp)
    at = im.find(b'entry-0152-')
    im.b[at] = ord('z')  # breaks the order of the names
    expect_corrupt('dirents out of order', im.b, want='order', work=work)
    im = Image(img_fp)
    im.b[im.find(b'entry-0153-') + 5] = ord('/')
    expect_corrupt("dirent name with '/'", im.b, want="'/'", work=work)
    im = Image(img_fp)
    im.set_dirent_nid(b'entry-0154-', im.root_nid, 2)
    expect_corrupt('dirent pointing back at the root (a loop)', im.b,
                   want='second time', work=work)

    # file data: only fingerprints can tell
    lo, hi = data_extent(img_fp, '/data.bin')
    b = bytearray(base.b)
    b[(lo + hi) // 2] ^= 1
    expect_corrupt('data byte flip caught by the fingerprint', b,
                   want='fingerprint', work=work)
    plain = Image(img_plain)
    lo, hi = data_extent(img_plain, '/data.bin')
    b = bytearray(plain.b)
    b[(lo + hi) // 2] ^= 1
    with open(path, 'wb') as f:
        f.write(b)
    rc, out = run([FSCK, path])
    result(rc == 0, 'data byte flip without fingerprints is undetectable '
           '(no data checksums in EROFS)', 'exit %s' % rc)

    # truncation
    for frac in (2, 3, 10):
        cut = base.b[:len(base.b) * (frac - 1) // frac // 512 * 512]
        expect_corrupt('image truncated to %d/%d' % (frac - 1, frac), cut,
                       work=work)
    expect_corrupt('image truncated inside the superblock', base.b[:1100],
                   work=work)


def snapshot(top, skip):
    """Everything under top but "skip": names, types, sizes, targets."""
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        if os.path.abspath(dirpath) == os.path.abspath(skip):
            dirnames[:] = []
            continue
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            if os.path.abspath(p) == os.path.abspath(skip):
                continue
            st = os.lstat(p)
            out.append((p, st.st_mode, st.st_size, st.st_mtime_ns,
                        os.readlink(p) if os.path.islink(p) else None))
    return sorted(out)


def random_damage(work, images):
    rnd = random.Random(int(os.environ.get('FSCK_FUZZ_SEED', '12345')))
    sandbox = os.path.join(work, 'sandbox')
    xdir = os.path.join(sandbox, 'x')
    os.makedirs(os.path.join(sandbox, 'outside'))
    with open(os.path.join(sandbox, 'outside', 'keep'), 'w') as f:
        f.write('must stay\n')
    before = snapshot(sandbox, xdir)
    path = os.path.join(work, 'r.img')
    bad = []
    codes = {}
    for i in range(COUNT):
        im = images[i % len(images)]
        b = bytearray(im.b)
        meta = min(x for x in (im.meta_blkaddr * im.blksz,
                               im.xattr_blkaddr * im.blksz) if x) \
            if im.xattr_blkaddr else im.meta_blkaddr * im.blksz
        for _ in range(rnd.randint(1, 6)):
            r = rnd.random()
            if r < 0.55:
                pos = rnd.randrange(min(meta, len(b) - 1), len(b))
            elif r < 0.75:
                pos = rnd.randrange(1024, 1024 + 160)
            else:
                pos = rnd.randrange(len(b))
            if rnd.random() < 0.5:
                b[pos] ^= 1 << rnd.randrange(8)
            else:
                b[pos] = rnd.randrange(256)
        if rnd.random() < 0.05:
            b = b[:rnd.randrange(len(b))]
        with open(path, 'wb') as f:
            f.write(b)
        runs = [[FSCK, '--no-sbcrc', path]]
        if i % 4 == 0:
            shutil.rmtree(xdir, ignore_errors=True)
            runs.append([FSCK, '--no-sbcrc', '--extract=' + xdir, '--xattrs',
                         path])
        if i % 5 == 0:
            runs.append([DUMP, '-s', '-S', path])
            runs.append([DUMP, '--ls', '--path=/', path])
        for args in runs:
            rc, out = run(args, timeout=60)
            is_dump = args[0] == DUMP
            if rc is not None:
                codes[rc] = codes.get(rc, 0) + 1
            if rc is None or rc < 0 or sanitizer_report(out) or \
                    (not is_dump and rc not in ALLOWED) or \
                    (is_dump and rc not in (0, 1)):
                keep = os.path.join(work, 'bad-%d.img' % i)
                shutil.copy(path, keep)
                bad.append('#%d %s: %s %s' % (
                    i, os.path.basename(args[0]),
                    'hang' if rc is None else 'exit %d' % rc,
                    out.strip().splitlines()[-1:] if out else ''))
    after = snapshot(sandbox, xdir)
    result(not bad, '%d randomly damaged images: no crash, hang, sanitizer '
           'report or unexpected exit status' % COUNT,
           '; '.join(bad[:5]))
    result(before == after, 'extracting damaged images left everything '
           'outside the extraction directory alone',
           str(set(before) ^ set(after))[:300])
    print('exit statuses seen: %s' % dict(sorted(codes.items())))


def erofs_utils_images(work, src):
    """Images of other layouts (chunk indexes, 48-bit, compression) made
    by the newest erofs-utils, when it is available."""
    oracle = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'oracle', 'erofs-utils-new.sh')
    p = subprocess.run(['bash', oracle], capture_output=True, text=True)
    if p.returncode:
        print('SKIP: damaged erofs-utils images: %s' %
              (p.stderr.strip().splitlines() or ['oracle unavailable'])[-1])
        return []
    out = []
    for i, opts in enumerate((['-E48bit', '--chunksize=4096'],
                              ['--xattr-inode-digest', '-b', '1024'],
                              ['-zlz4hc', '-Eztailpacking'])):
        img = os.path.join(work, 'eu%d.img' % i)
        rc, msg = run([os.path.join(p.stdout.strip(), 'mkfs.erofs'),
                       '--quiet'] + opts + [img, src])
        if rc:
            result(False, 'erofs-utils mkfs.erofs %s' % ' '.join(opts),
                   msg[-200:])
        else:
            out.append(Image(img))
    return out


def main():
    work = tempfile.mkdtemp(prefix='erofs-corrupt.')
    try:
        src = os.path.join(work, 'src')
        make_source(src)
        img_fp = os.path.join(work, 'fp.img')
        img_plain = os.path.join(work, 'plain.img')
        img_small = os.path.join(work, 'b512.img')
        for args in ([MKFS, '--quiet', '--ishare', img_fp, src],
                     [MKFS, '--quiet', img_plain, src],
                     [MKFS, '--quiet', '-b', '512', '--ishare', img_small,
                      src]):
            rc, out = run(args)
            if rc != 0:
                result(False, 'build test images', out[-300:])
                return 1
        chosen_damage(work, img_plain, img_fp)
        images = [Image(img_fp), Image(img_plain), Image(img_small)]
        images += erofs_utils_images(work, src)
        random_damage(work, images)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())

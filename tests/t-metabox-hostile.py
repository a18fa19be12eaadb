#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile metabox images: images of ours built with -m (the records in the
metabox inode's data, plain without -z, compressed with it) or without it,
patched so that the metabox nid points into the metabox itself, past the
image or at something that is no regular file, the metabox's data is
garbage or claims another layout or size, the packed inode's nid points
into the metabox, the superblock lacks the slot naming the metabox, a nid
carries the metabox bit in an image without one or points past the end of
the metabox, and a directory in the metabox names its own parent. fsck
must say what is wrong and exit 4; fsck --extract and dump must end well
(no signal, no time-out, no sanitizer report); the kernel, where it is at
hand, refuses the images it refuses too."""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, SB, Image, exit_status,  # noqa: E402
                       kernel_mounts, nid_of, result)

TIME_LIMIT = 60
METABOX_BIT = 1 << 63
SB_EXTSLOTS, SB_PACKED_NID, SB_METABOX_NID = 13, 0x60, 0x80


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        return None, ''
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def bad_end(rc, out):
    if rc is None:
        return 'did not finish within %d s' % TIME_LIMIT
    if rc < 0 or rc >= 128:
        return 'killed by signal %d' % (-rc if rc < 0 else rc - 128)
    for word in ('Sanitizer', 'runtime error', 'out of memory'):
        if word in out:
            return 'reported "%s"' % word
    return None


def kernel_refuses(img, work):
    """True/False: whether a mount fails; None without a kernel to ask."""
    if not os.path.exists('/sys/fs/erofs/features/metabox'):
        return None
    mounts = kernel_mounts(img, work)
    return None if mounts is None else not mounts


def judge(work, name, im, grep, kernel_refuse=False):
    img = os.path.join(work, 'hostile.img')
    im.save(img)
    x = os.path.join(work, 'x')
    shutil.rmtree(x, ignore_errors=True)
    why = []
    for label, cmd in (('fsck', [FSCK, img]),
                       ('fsck --extract', [FSCK, '--extract=' + x, img]),
                       ('dump -s -S', [DUMP, '-s', '-S', img]),
                       ('dump --ls /', [DUMP, '--ls', '--path=/', img]),
                       ('dump -e /a', [DUMP, '-e', '--path=/a', img])):
        rc, out = run(cmd)
        bad = bad_end(rc, out)
        if bad:
            why.append('%s: %s | %s' % (label, bad, out.strip()[:200]))
        elif label == 'fsck' and (rc != 4 or grep not in out):
            why.append('fsck: exit %s, expected 4 and "%s": %s' %
                       (rc, grep, ' / '.join(out.strip().splitlines()[:3])))
    shutil.rmtree(x, ignore_errors=True)
    if kernel_refuse:
        k = kernel_refuses(img, work)
        if k is False:
            why.append('the kernel mounts it, but refuses it in the kernel '
                       'source this test follows')
    result(not why, name, '; '.join(why))


def make_source(d):
    os.makedirs(os.path.join(d, 'a/b/c'))
    os.makedirs(os.path.join(d, 'many'))
    with open(os.path.join(d, 'a/b/c/leaf'), 'w') as f:
        f.write('leaf\n')
    with open(os.path.join(d, 'a/zz-self'), 'w') as f:
        f.write('self\n')
    with open(os.path.join(d, 'text'), 'wb') as f:
        f.write(b''.join(b'line %d of compressible text\n' % i
                         for i in range(20000)))
    for i in range(300):
        with open(os.path.join(d, 'many', 'entry-%03d' % i), 'w') as f:
            f.write('%d\n' % i)


def build(work, src, name, *opts):
    img = os.path.join(work, name)
    subprocess.run([MKFS, '--quiet', '-T1700000000'] + list(opts) +
                   [img, src], check=True, capture_output=True)
    return Image(img)


def metabox_inode(im):
    """(nid, image offset of its record) of the metabox inode."""
    nid = struct.unpack_from('<Q', im.b, SB + SB_METABOX_NID)[0]
    return nid, im.iloc(nid)


def main():
    work = tempfile.mkdtemp(prefix='erofs-mbox-hostile.')
    try:
        src = os.path.join(work, 'src')
        make_source(src)
        plain = build(work, src, 'plain.img')            # no metabox
        flat = build(work, src, 'flat.img', '-m4096')    # plain metabox
        comp = build(work, src, 'comp.img', '-m4096', '-zlz4',
                     '-Efragments')                      # compressed
        for im, what in ((flat, 'plain'), (comp, 'compressed')):
            rc, out = run([FSCK, im.path])
            result(rc == 0, 'the %s metabox image is clean' % what,
                   out.strip()[:300])

        im = Image(comp.path)
        nid, _ = metabox_inode(im)
        struct.pack_into('<Q', im.b, SB + SB_METABOX_NID, nid | METABOX_BIT)
        judge(work, 'metabox nid with the metabox bit (a loop)', im,
              'points into the metabox itself', kernel_refuse=True)

        im = Image(comp.path)
        struct.pack_into('<Q', im.b, SB + SB_METABOX_NID, 1 << 40)
        judge(work, 'metabox nid past the end of the image', im,
              'inode lies past the end of the image')

        im = Image(comp.path)
        _, at = metabox_inode(im)
        struct.pack_into('<H', im.b, at + 4, 0o40755)
        judge(work, 'metabox inode that is a directory', im,
              'not a regular file')

        # the compressed metabox's clusters turned to garbage
        im = Image(comp.path)
        nid, _ = metabox_inode(im)
        out = subprocess.run([DUMP, '-e', '--nid=%d' % nid, im.path],
                             capture_output=True, text=True).stdout
        spans = re.findall(r'^\s*\d+\s+\d+\.\.\d+\s+\d+\s+(\d+)\.\.(\d+)',
                           out, re.M)
        if not spans:
            result(False, 'metabox clusters of garbage',
                   'no extents in: ' + out[-300:])
        else:
            for a, b in spans:
                a, b = int(a), int(b)
                im.b[a:b] = bytes((i * 37 + 11) & 0xff for i in range(b - a))
            judge(work, 'metabox clusters of garbage', im, 'metabox')

        # its compressed layout read as flat from block 0: the records
        # would be the zeroes before the superblock
        im = Image(comp.path)
        _, at = metabox_inode(im)
        fmt = struct.unpack_from('<H', im.b, at)[0]
        struct.pack_into('<H', im.b, at, fmt & ~0xe)
        struct.pack_into('<I', im.b, at + 16, 0)
        judge(work, 'compressed metabox claimed flat', im, 'nid')

        # a flat metabox of a terabyte
        im = Image(flat.path)
        _, at = metabox_inode(im)
        struct.pack_into('<I', im.b, at + 8, 0xfffff000)
        judge(work, 'flat metabox larger than the image', im,
              'metabox inode')

        # a compressed metabox claiming a terabyte of records
        im = Image(comp.path)
        _, at = metabox_inode(im)
        struct.pack_into('<I', im.b, at + 8, 0xfffff000)
        judge(work, 'compressed metabox claiming 4 GiB of records', im, 'nid')

        im = Image(comp.path)
        pnid = struct.unpack_from('<Q', im.b, SB + SB_PACKED_NID)[0]
        if not pnid:
            result(False, 'packed inode nid with the metabox bit',
                   'the image has no packed inode')
        else:
            struct.pack_into('<Q', im.b, SB + SB_PACKED_NID,
                             pnid | METABOX_BIT)
            judge(work, 'packed inode nid with the metabox bit', im,
                  "packed inode's nid points into the metabox")

        im = Image(comp.path)
        im.b[SB + SB_EXTSLOTS] = 0
        judge(work, 'metabox without the superblock slot naming it', im,
              'without the superblock extension slot', kernel_refuse=True)

        im = Image(plain.path)
        im.set_dirent_nid(b'zz-self', nid_of(DUMP, plain.path, '/a/zz-self')
                          | METABOX_BIT)
        judge(work, 'metabox nid in an image without a metabox', im,
              'metabox the image does not have')

        # patched inside the plain metabox, which the image holds as it is
        im = Image(flat.path)
        im.set_dirent_nid(b'zz-self', METABOX_BIT | (1 << 40))
        judge(work, 'nid past the end of the metabox', im,
              'past the end of the metabox')

        im = Image(flat.path)
        im.set_dirent_nid(b'zz-self', nid_of(DUMP, flat.path, '/a'), 2)
        judge(work, 'directory in the metabox naming its own (a loop)', im,
              'reached a second time')
    finally:
        subprocess.run(['rm', '-rf', work])
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The compression configuration records after the superblock, as the
kernel checks them at mount: images of ours built with each algorithm are
clean, then their record is patched past what the kernel accepts (a deflate
window over 32 KiB, an lzma dictionary over 8 MiB or an unknown lzma
format, a zstd window over 1 MiB, lz4 physical clusters over 1 MiB, a
record cut short, an algorithm bit no kernel knows). fsck must refuse each
with a reason and a non-zero exit, no crash; the kernel, where it has the
algorithm, refuses the same image."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (FSCK, MKFS, SB, Image, exit_status,  # noqa: E402
                       kernel_mounts, result)

SB_EXTSLOTS, SB_ALGS = 13, 0x54
ALG = {'lz4': 0, 'lzma': 1, 'deflate': 2, 'zstd': 3}


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def record(im, alg):
    """Image offset of the payload of algorithm alg's record."""
    pos = SB + 128 + 16 * im.b[SB + SB_EXTSLOTS]
    algs = struct.unpack_from('<H', im.b, SB + SB_ALGS)[0]
    for a in range(16):
        if not algs & (1 << a):
            continue
        pos = (pos + 3) & ~3
        n = struct.unpack_from('<H', im.b, pos)[0] or 65536
        if a == alg:
            return pos + 2
        pos += 2 + n
    raise ValueError('no record for algorithm %d' % alg)


def main():
    work = tempfile.mkdtemp(prefix='erofs-cfgs.')
    try:
        src = os.path.join(work, 'src')
        os.makedirs(src)
        with open(os.path.join(src, 'text'), 'wb') as f:
            f.write(b''.join(b'line %d of text\n' % i for i in range(30000)))
        good = {}
        for z in ('lz4', 'lzma', 'deflate', 'zstd'):
            img = os.path.join(work, z + '.img')
            # lz4 alone records its configuration only for big clusters
            rc, out = run([MKFS, '--quiet', '-z' + z, '-C65536', img, src])
            if rc:
                result(False, '%s image builds' % z, out[:200])
                continue
            rc, out = run([FSCK, img])
            result(rc == 0, 'the %s image is clean' % z, out[:200])
            good[z] = img
            # the kernel of this machine may lack the algorithm: only
            # the ones it mounts judge the patched images below
            good[z + '/kernel'] = kernel_mounts(img, work)

        cases = [
            ('deflate', 'deflate windowbits 16', 0, '<B', 16, 'deflate window'),
            ('lzma', 'lzma dictionary of 16 MiB', 0, '<I', 16 << 20,
             'lzma dictionary'),
            ('lzma', 'lzma format 1', 4, '<H', 1, 'lzma stream format'),
            ('zstd', 'zstd window of 2 MiB', 1, '<B', 11, 'zstd window'),
            ('zstd', 'zstd window log 250', 1, '<B', 250, 'zstd window'),
            ('zstd', 'zstd format 1', 0, '<B', 1, 'zstd configuration'),
            ('lz4', 'lz4 clusters of 2 MiB', 2, '<H', 512, 'lz4 physical'),
            ('lz4', 'lz4 record of 2 bytes', -2, '<H', 2, 'too short'),
        ]
        for z, name, off, fmt, val, grep in cases:
            if z not in good:
                result(False, name, 'no %s image to patch' % z)
                continue
            im = Image(good[z])
            struct.pack_into(fmt, im.b, record(im, ALG[z]) + off, val)
            bad = os.path.join(work, 'bad.img')
            im.save(bad)
            rc, out = run([FSCK, bad])
            why = []
            if rc in (0, 1) or rc < 0 or rc >= 128 or grep not in out:
                why.append('fsck: exit %d, expected a refusal naming "%s": %s'
                           % (rc, grep, out.strip()[:200]))
            if good.get(z + '/kernel') and kernel_mounts(bad, work):
                why.append('the kernel mounts it')
            result(not why, name, '; '.join(why))

        if 'lz4' in good:
            im = Image(good['lz4'])
            algs = struct.unpack_from('<H', im.b, SB + SB_ALGS)[0]
            struct.pack_into('<H', im.b, SB + SB_ALGS, algs | 0x100)
            bad = os.path.join(work, 'bad.img')
            im.save(bad)
            rc, out = run([FSCK, bad])
            ok = rc not in (0, 1) and 0 < rc < 128 and 'algorithms' in out
            if ok and good.get('lz4/kernel') and kernel_mounts(bad, work):
                ok, out = False, 'the kernel mounts it'
            result(ok, 'an algorithm bit no kernel knows',
                   'exit %d: %s' % (rc, out.strip()[:200]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Device tables and chunk indexes patched by hand: images with extra
devices built by erofs-utils 1.9 (--blobdev, and a merge of two layers)
get device ids with nydus' high bits, startblk_hi without 48-bit, devices
the table lacks, chunks past a device's end, a moved device table,
unknown chunk format bits, a huge or misplaced table, overlapping unified
ranges, chunks and flat inodes addressed through the unified address
space, and devices missing or cut short. fsck.erofs must read what the
kernel reads right (and extract it byte for byte) and report the rest with
the right exit status and a clear message; no tool may crash, hang or trip
a sanitizer."""
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import DUMP, FSCK, Image, exit_status, result  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SB = 1024
EXTRA_DEVICES, DEVT_SLOTOFF = SB + 0x56, SB + 0x58
TIME_LIMIT = 60  # seconds per tool run; sanitized builds need most of it
MEM_LIMIT = 2 << 30  # address space of unsanitized tools


def sanitized(path):
    """Sanitizer runtimes reserve terabytes of address space: no limit."""
    with open(path, 'rb') as f:
        data = f.read()
    return b'__asan_init' in data or b'__ubsan_handle' in data


def limit_memory():
    if not any(sanitized(p) for p in (FSCK, DUMP)):
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
    for word in ('Sanitizer', 'runtime error', 'out of memory'):
        if word in out:
            return 'reported "%s"' % word
    return None


def first_lines(out, n=3):
    return ' / '.join(out.strip().splitlines()[:n])


def eu_bin():
    p = subprocess.run(['bash', os.path.join(HERE, 'oracle',
                                             'erofs-utils-new.sh')],
                       capture_output=True, text=True)
    if p.returncode or not p.stdout.strip():
        return None, (p.stderr.strip().splitlines() or ['unavailable'])[-1]
    return p.stdout.strip(), None


def sh(*cmd):
    p = subprocess.run(list(cmd), capture_output=True)
    if p.returncode:
        raise RuntimeError('%s: %s' % (' '.join(cmd), p.stderr.decode()[-400:]))
    return p.stdout.decode()


def make_source(d):
    os.makedirs(d)
    r = open('/dev/urandom', 'rb')
    files = {'a': r.read(4097), 'b': r.read(300000), 'z': b'\0' * 16384}
    for name, data in files.items():
        with open(os.path.join(d, name), 'wb') as f:
            f.write(data)
    with open(os.path.join(d, 's'), 'wb') as f:
        f.seek(900000)
        f.write(r.read(1000))
        f.truncate(1 << 20)
    os.symlink('b', os.path.join(d, 'link'))


class Inode:
    """Where an inode and its chunk table are, from our dump.erofs."""

    def __init__(self, img, path, devs=()):
        out = sh(DUMP, '--path=' + path, *['--device=' + d for d in devs],
                 img)
        self.chunk_pos = self.nchunks = None
        for line in out.splitlines():
            w = line.split()
            if line.startswith('NID:'):
                self.iloc = int(w[4].rstrip(')'))
            elif line.startswith('Chunks:'):
                self.nchunks = int(w[1])
                self.chunk_pos = int(w[-1])


def chunk(im, ino, i):
    """(startblk_hi, device_id, startblk_lo) of chunk index i."""
    return struct.unpack_from('<HHI', im.b, ino.chunk_pos + 8 * i)


def set_chunk(im, ino, i, hi, dev, lo):
    struct.pack_into('<HHI', im.b, ino.chunk_pos + 8 * i, hi, dev, lo)


def slot(im, i):
    """(blocks_lo, uniaddr_lo) of slot i."""
    off = struct.unpack_from('<H', im.b, DEVT_SLOTOFF)[0] * 128 + 128 * i
    return struct.unpack_from('<II', im.b, off + 64)


def set_slot(im, i, blocks, uniaddr):
    off = struct.unpack_from('<H', im.b, DEVT_SLOTOFF)[0] * 128 + 128 * i
    struct.pack_into('<II', im.b, off + 64, blocks, uniaddr)


class Case:
    def __init__(self, work):
        self.work = work

    def write(self, im, name='hostile.img'):
        path = os.path.join(self.work, name)
        im.fix_checksum()
        with open(path, 'wb') as f:
            f.write(im.b)
        return path

    def judge(self, name, img, devs, want, grep=None, compare=None,
              paths=('/',)):
        """fsck (check and extract) must exit "want" and print "grep";
        "compare" maps image paths to source files the extraction must
        equal; dump's reports must end well."""
        dev_args = ['--device=' + d for d in devs]
        xdir = os.path.join(self.work, 'x')
        shutil.rmtree(xdir, ignore_errors=True)
        runs = [('fsck', [FSCK] + dev_args + [img]),
                ('fsck --extract',
                 [FSCK, '--extract=' + xdir] + dev_args + [img]),
                ('dump -s -S', [DUMP, '-s', '-S'] + dev_args + [img])]
        for p in paths:
            runs.append(('dump -e ' + p,
                         [DUMP, '-e', '--path=' + p] + dev_args + [img]))
        why = []
        for label, cmd in runs:
            rc, out, secs = run(cmd)
            bad = bad_end(rc, out)
            if bad:
                why.append('%s: %s | %s' % (label, bad, first_lines(out)))
            elif label.startswith('fsck') and rc != want:
                why.append('%s: exit %d, expected %d | %s' %
                           (label, rc, want, first_lines(out)))
            elif label == 'fsck' and grep and grep not in out:
                why.append('fsck: no "%s" in: %s' % (grep, first_lines(out)))
        for p, src in (compare or {}).items():
            got = os.path.join(xdir, p.lstrip('/'))
            with open(src, 'rb') as f:
                want_bytes = f.read()
            try:
                with open(got, 'rb') as f:
                    ok = f.read() == want_bytes
            except OSError as e:
                ok = False
                why.append('%s not extracted: %s' % (p, e))
                continue
            if not ok:
                why.append('%s: extracted content differs from the source'
                           % p)
        shutil.rmtree(xdir, ignore_errors=True)
        result(not why, name, '; '.join(why))


def cases(work, eu):
    src = os.path.join(work, 'src')
    make_source(src)
    meta = os.path.join(work, 'meta.img')
    blob = os.path.join(work, 'blob.img')
    sh(eu + '/mkfs.erofs', '--quiet', '-T0', '-Uclear', '--blobdev=' + blob,
       '--chunksize=4096', meta, src)
    c = Case(work)
    b = Inode(meta, '/b', [blob])
    s = Inode(meta, '/s', [blob])
    src_b = {'/b': os.path.join(src, 'b'), '/s': os.path.join(src, 's')}
    blob_blocks, uniaddr = slot(Image(meta), 0)

    def combined(im, name='flat.img', tail=None):
        path = c.write(im, name)
        with open(path, 'ab') as f, open(blob, 'rb') as g:
            data = g.read()
            f.write(data if tail is None else data[:tail])
        return path

    im = Image(meta)
    c.judge('as built, with --device', c.write(im), [blob], 0, compare=src_b)
    c.judge('as built, meta and blob in one file', combined(im), [], 0,
            compare=src_b)

    # nydus keeps a chunk-info index above the device id's low bits
    im = Image(meta)
    for i in range(b.nchunks):
        hi, dev, lo = chunk(im, b, i)
        set_chunk(im, b, i, 0xbeef, 0xab00 | dev, lo)
    c.judge('device_id with high bits set is masked', c.write(im), [blob], 0,
            compare=src_b)
    c.judge('device_id with high bits set, one file', combined(im), [], 0,
            compare=src_b)

    im = Image(meta)
    hi, dev, lo = chunk(im, b, 3)
    set_chunk(im, b, 3, 0x1234, dev, lo)
    c.judge('startblk_hi without 48-bit is ignored', c.write(im), [blob], 0,
            compare=src_b)

    # a chunk of device 0 at the unified address of the same block
    im = Image(meta)
    for i in range(b.nchunks):
        hi, dev, lo = chunk(im, b, i)
        set_chunk(im, b, i, 0, 0, uniaddr + lo)
    c.judge('device-0 chunks at unified addresses read the blob',
            c.write(im), [blob], 0, compare=src_b)
    c.judge('device-0 chunks at unified addresses, one file', combined(im),
            [], 0, compare=src_b)

    # a flat inode whose blocks are the blob's, by unified address
    im = Image(meta)
    starts = [chunk(im, b, i)[2] for i in range(b.nchunks)]
    if starts == list(range(starts[0], starts[0] + len(starts))):
        fmt = struct.unpack_from('<H', im.b, b.iloc)[0]
        struct.pack_into('<H', im.b, b.iloc, fmt & ~0xe)  # FLAT_PLAIN
        struct.pack_into('<I', im.b, b.iloc + 16, uniaddr + starts[0])
        c.judge('flat inode at a unified address reads the blob',
                c.write(im), [blob], 0, compare={'/b': src_b['/b']})
        c.judge('flat inode at a unified address, one file', combined(im),
                [], 0, compare={'/b': src_b['/b']})
    else:
        print('SKIP: flat inode at a unified address: /b is not contiguous '
              'in the blob')

    im = Image(meta)
    hi, dev, lo = chunk(im, b, 5)
    set_chunk(im, b, 5, 0, 0x1f01, 0xffffffff)
    c.judge('hole chunk with device bits', c.write(im), [blob], 0)

    im = Image(meta)
    set_chunk(im, b, 2, 0, 1, blob_blocks)
    c.judge('chunk at the device end', c.write(im), [blob], 4,
            'past the end of its extra device')
    im = Image(meta)
    set_chunk(im, b, 2, 0, 1, 0xfffffffe)
    c.judge('chunk far past the device end', c.write(im), [blob], 4,
            'past the end of its extra device')
    c.judge('chunk far past the device end, one file', combined(im), [], 4,
            'past the end of its extra device')
    im = Image(meta)
    set_chunk(im, b, 2, 0, 0, uniaddr + blob_blocks + 5)
    c.judge('device-0 chunk past the image and its devices', c.write(im),
            [blob], 4, 'past the end of the image')

    # the table moved to a block of its own (as nydus moves it to 1408)
    im = Image(meta)
    old = struct.unpack_from('<H', im.b, DEVT_SLOTOFF)[0] * 128
    moved = len(im.b)
    im.b += bytes(im.blksz)
    im.b[moved:moved + 128] = im.b[old:old + 128]
    im.b[old:old + 128] = bytes(128)
    struct.pack_into('<H', im.b, DEVT_SLOTOFF, moved // 128)
    struct.pack_into('<I', im.b, SB + 0x24, moved // im.blksz + 1)
    set_slot(im, 0, blob_blocks, uniaddr + 1)
    c.judge('device table at devt_slotoff %d' % (moved // 128), c.write(im),
            [blob], 0, compare=src_b)
    c.judge('device table at devt_slotoff %d, one file' % (moved // 128),
            combined(im), [], 0, compare=src_b)

    im = Image(meta)
    fmt = struct.unpack_from('<H', im.b, b.iloc + 16)[0]
    struct.pack_into('<H', im.b, b.iloc + 16, fmt | 0x80)
    c.judge('chunk format with unknown bits is refused', c.write(im),
            [blob], 8, 'unknown bits')

    im = Image(meta)
    struct.pack_into('<H', im.b, EXTRA_DEVICES, 65535)
    c.judge('65535 extra devices', c.write(im), [], 4,
            'device table (65535 slots')
    # 65535 slots that fit: a table of 8 MiB after the metadata; the
    # first slot is the blob, the others empty
    im = Image(meta)
    old = struct.unpack_from('<H', im.b, DEVT_SLOTOFF)[0] * 128
    moved = len(im.b)
    im.b += bytes(65536 * 128)
    im.b[moved:moved + 128] = im.b[old:old + 128]
    struct.pack_into('<H', im.b, DEVT_SLOTOFF, moved // 128)
    struct.pack_into('<H', im.b, EXTRA_DEVICES, 65535)
    struct.pack_into('<I', im.b, SB + 0x24, len(im.b) // im.blksz)
    set_slot(im, 0, blob_blocks, len(im.b) // im.blksz)
    path = combined(im)
    c.judge('65535 devices in the table, one file', path, [], 0,
            compare=src_b)
    rc, out, _ = run([FSCK, path])
    result(rc == 0 and '65518 more extra devices are missing' in out and
           len(out.splitlines()) < 40,
           '65535 devices: missing ones said in a few lines',
           'exit %s, %d lines: %s' % (rc, len(out.splitlines()),
                                      first_lines(out)))
    im = Image(meta)
    struct.pack_into('<H', im.b, DEVT_SLOTOFF, 0xffff)
    c.judge('device table far outside the image', c.write(im), [blob], 4,
            'runs past the end of the primary device')
    im = Image(meta)
    struct.pack_into('<H', im.b, DEVT_SLOTOFF, 8)
    c.judge('device table over the superblock', c.write(im), [blob], 4,
            'overlaps the superblock')

    im = Image(meta)
    set_slot(im, 0, 0xffffffff, uniaddr)
    c.judge('device claiming 2^32 blocks, blob given', c.write(im), [blob],
            0, compare=src_b)
    im = Image(meta)
    set_slot(im, 0, 0xffffffff, 0xffffffff)
    c.judge('device at the top of the unified space, one file',
            combined(im), [], 8, 'extra device 1 is not in')

    half = (blob_blocks // 2) * im.blksz
    with open(blob, 'rb') as f:
        short = os.path.join(work, 'short.img')
        with open(short, 'wb') as g:
            g.write(f.read(half))
    c.judge('blob cut short', meta, [short], 4, 'holds %d bytes' % half)
    c.judge('one file cut short', combined(Image(meta), tail=half), [], 4,
            'cut short')
    c.judge('blob missing', meta, [], 8, 'extra device 1 is not in')

    # wrong number of devices: erofs-utils' words; fsck exits 16, dump 1
    for tool, want in ((FSCK, 16), (DUMP, 1)):
        rc, out, _ = run([tool, '--device=' + blob, '--device=' + blob, meta])
        name = '%s with 2 devices for 1' % os.path.basename(tool)
        result(rc == want and
               "extra devices don't match (ondisk 1, given 2)" in out,
               name, 'exit %s: %s' % (rc, first_lines(out)))
    rc, out, _ = run([eu + '/fsck.erofs', '--device=' + blob,
                      '--device=' + blob, meta])
    result("extra devices don't match (ondisk 1, given 2)" in out,
           'erofs-utils says the same of 2 devices for 1', first_lines(out))

    # two devices: a merge of two layers
    layers = []
    for n in (1, 2):
        d = os.path.join(work, 'l%d' % n)
        os.makedirs(d)
        with open(os.path.join(d, 'f%d' % n), 'wb') as f:
            f.write(os.urandom(20000 * n))
        tar = os.path.join(work, 'l%d.tar' % n)
        sh('tar', '-C', d, '-cf', tar, '.')
        layer = os.path.join(work, 'L%d.erofs' % n)
        sh(eu + '/mkfs.erofs', '--quiet', '--tar=f', '--aufs',
           '-Enoinline_data', '-U',
           '-'.join(('%d' % n) * k for k in (8, 4, 4, 4, 12)), layer, tar)
        layers.append(layer)
    merged = os.path.join(work, 'merged.erofs')
    sh(eu + '/mkfs.erofs', '--quiet', merged, *layers)
    f2 = Inode(merged, '/f2', layers)
    src_f = {'/f1': os.path.join(work, 'l1', 'f1'),
             '/f2': os.path.join(work, 'l2', 'f2')}
    c.judge('merged layers, with --device', merged, layers, 0, compare=src_f)
    im = Image(merged)
    hi, dev, lo = chunk(im, f2, 0)
    set_chunk(im, f2, 0, 0, 3, lo)
    c.judge('device_id beyond the table (3 of 2)', c.write(im), layers, 4,
            'device the device table does not have')
    im = Image(merged)
    set_chunk(im, f2, 0, 0, 1, lo)
    c.judge('chunk moved to a device too small for it', c.write(im), layers,
            4, 'runs past the end of its extra device')
    im = Image(merged)
    blocks0, uni0 = slot(im, 0)
    blocks1, uni1 = slot(im, 1)
    set_slot(im, 1, blocks1, uni0 + 1)
    c.judge('overlapping unified ranges', c.write(im), layers, 4,
            'overlap in the unified address space')
    im = Image(merged)
    set_slot(im, 0, blocks0, 0)
    c.judge('device without a unified address, one file', c.write(im), [], 8,
            'no unified address')


def main():
    for tool in (FSCK, DUMP):
        if not os.access(tool, os.X_OK):
            print('SKIP: multi-device hostile images: %s is not built' % tool)
            return 0
    eu, why = eu_bin()
    if not eu:
        print('SKIP: multi-device hostile images: erofs-utils 1.9 builds '
              'them: %s' % why)
        return 0
    work = tempfile.mkdtemp(prefix='erofs-mdhostile.')
    try:
        cases(work, eu)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

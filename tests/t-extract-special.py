#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fsck.erofs --extract and special files: device nodes, FIFOs and sockets
in the image are created inside DIR as what they are (never opened or
written), hard links to them stay links, an entry whose file type lies
about its inode is reported, and special files already in DIR where the
image has a regular file are never opened for writing (a FIFO would hang
the extraction, a device would be overwritten): refused without
--overwrite, replaced with it. Nothing outside DIR changes. Needs root
(mknod); SKIP otherwise."""
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, Image, exit_status,  # noqa: E402
                       nid_of, result)

FT_REG = 1


def extract(img, xdir, *extra):
    try:
        p = subprocess.run([FSCK, '--extract=' + xdir] + list(extra) + [img],
                           capture_output=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None, 'did not finish within 60 s (opened a FIFO?)'
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def listing(top, skip):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames
                       if os.path.join(dirpath, d) != skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if p == skip:
                continue
            st = os.lstat(p)
            out.append((p, st.st_mode, st.st_rdev, st.st_size,
                        st.st_mtime_ns))
    return sorted(out)


def crashed(rc, out):
    return rc is None or rc < 0 or rc >= 128 or 'Sanitizer' in out


def main():
    if os.geteuid():
        print('SKIP: special files in extraction: needs root for mknod')
        return 0
    work = tempfile.mkdtemp(prefix='erofs-xspecial.')
    try:
        run_cases(work)
    finally:
        subprocess.run(['rm', '-rf', work])
    return exit_status()


def run_cases(work):
    src = os.path.join(work, 'src')
    os.makedirs(os.path.join(src, 'dev'))
    null_like = os.makedev(1, 3)
    odd_blk = os.makedev(259, 300000)
    os.mknod(os.path.join(src, 'dev/chr'), 0o640 | stat.S_IFCHR, null_like)
    os.mknod(os.path.join(src, 'dev/blk'), 0o600 | stat.S_IFBLK, odd_blk)
    os.link(os.path.join(src, 'dev/chr'), os.path.join(src, 'dev/chr-link'))
    os.mkfifo(os.path.join(src, 'dev/fifo'))
    with open(os.path.join(src, 'file'), 'w') as f:
        f.write('regular content\n')
    with open(os.path.join(src, 'zz-victim'), 'w') as f:
        f.write('victim\n')
    img = os.path.join(work, 'img')
    p = subprocess.run([MKFS, '--quiet', img, src], capture_output=True)
    if p.returncode:
        result(False, 'build the image', p.stderr.decode()[-300:])
        return
    sbx = os.path.join(work, 'sbx')
    outside = os.path.join(sbx, 'outside')
    os.makedirs(outside)
    with open(os.path.join(outside, 'keep'), 'w') as f:
        f.write('keep\n')

    def fresh(name):
        x = os.path.join(sbx, name)
        subprocess.run(['rm', '-rf', x])
        return x

    # 1. specials are made as what they are, links stay links
    x = fresh('x1')
    before = listing(sbx, x)
    rc, out = extract(img, x)
    why = []
    if crashed(rc, out) or rc != 0:
        why.append('exit %s: %s' % (rc, out.strip()[:300]))
    else:
        st = {n: os.lstat(os.path.join(x, 'dev', n))
              for n in ('chr', 'blk', 'chr-link', 'fifo')}
        if not stat.S_ISCHR(st['chr'].st_mode) or \
                st['chr'].st_rdev != null_like:
            why.append('dev/chr is not character device 1:3')
        if not stat.S_ISBLK(st['blk'].st_mode) or \
                st['blk'].st_rdev != odd_blk:
            why.append('dev/blk is not block device 259:300000')
        if st['chr'].st_ino != st['chr-link'].st_ino:
            why.append('dev/chr-link is not a hard link to dev/chr')
        if not stat.S_ISFIFO(st['fifo'].st_mode):
            why.append('dev/fifo is not a FIFO')
    if listing(sbx, x) != before:
        why.append('something outside DIR changed')
    result(not why, 'device nodes and FIFOs extracted as such, links kept',
           '; '.join(why))

    # 2. an entry typed as a regular file leading to the device inode
    im = Image(img)
    im.set_dirent_nid(b'zz-victim', nid_of(DUMP, img, '/dev/chr'), FT_REG)
    im.fix_checksum()
    bad = os.path.join(work, 'bad.img')
    im.save(bad)
    x = fresh('x2')
    before = listing(sbx, x)
    rc, out = extract(bad, x)
    why = []
    if crashed(rc, out):
        why.append('crashed or hung: %s' % out.strip()[:300])
    elif not rc & 4 or 'file type' not in out:
        why.append('exit %s, the lie not reported: %s' % (rc, out[:300]))
    if listing(sbx, x) != before:
        why.append('something outside DIR changed')
    v = os.path.join(x, 'zz-victim')
    if os.path.lexists(v) and stat.S_ISREG(os.lstat(v).st_mode) and \
            os.path.getsize(v):
        why.append('data was written for the device inode')
    result(not why, 'entry typed as a file leading to a device inode',
           '; '.join(why))

    # 3. special files already in DIR where the image has a regular file
    for kind in ('FIFO', 'character device'):
        for overwrite in (False, True):
            x = fresh('x3')
            os.makedirs(x)
            target = os.path.join(x, 'file')
            if kind == 'FIFO':
                os.mkfifo(target)
            else:
                os.mknod(target, 0o600 | stat.S_IFCHR, null_like)
            before = listing(sbx, x)
            rc, out = extract(img, x, *(['--overwrite'] if overwrite
                                        else []))
            why = []
            st = os.lstat(target)
            if crashed(rc, out):
                why.append('crashed or hung: %s' % out.strip()[:200])
            elif overwrite:
                if rc != 0:
                    why.append('exit %d: %s' % (rc, out.strip()[:200]))
                elif not stat.S_ISREG(st.st_mode):
                    why.append('not replaced by the regular file')
                else:
                    with open(target) as f:
                        if f.read() != 'regular content\n':
                            why.append('wrong content')
            else:
                if not rc & 8:
                    why.append('exit %d: not refused' % rc)
                if stat.S_ISREG(st.st_mode):
                    why.append('replaced without --overwrite')
            if listing(sbx, x) != before:
                why.append('something outside DIR changed')
            result(not why, '%s in DIR where the image has a file, %s' %
                   (kind, 'replaced with --overwrite' if overwrite else
                    'refused without --overwrite'), '; '.join(why))


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""fsck.erofs --extract never creates, follows or writes anything outside
the extraction directory, whatever the image holds. Images are built by our
mkfs and then patched: directory entry names turned into "a/b", "." or "..",
a directory entry pointed at a symlink (symlink-then-file), at an ancestor
(a loop), a second entry at a directory, a hard link to a symlink; and
extraction into a directory that already holds symlinks pointing outside,
with and without --overwrite. After each case the tree outside the
extraction directory must be exactly as before."""
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import (DUMP, FSCK, MKFS, Image, exit_status,  # noqa: E402
                       nid_of, result)

FT_REG, FT_DIR, FT_SYMLINK = 1, 2, 7


def snapshot(top, skip):
    out = []
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames
                       if os.path.join(dirpath, d) != skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            if p == skip:
                continue
            st = os.lstat(p)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    content = f.read()
            out.append((p, st.st_mode, st.st_mtime_ns, content,
                        os.readlink(p) if stat.S_ISLNK(st.st_mode) else None))
    return sorted(out)


class Sandbox:
    """sbx/outside holds files that must not change; sbx/x is DIR."""

    def __init__(self, work):
        self.top = os.path.join(work, 'sbx')
        self.x = os.path.join(self.top, 'x')
        self.outside = os.path.join(self.top, 'outside')
        shutil.rmtree(self.top, ignore_errors=True)
        os.makedirs(self.outside)
        with open(os.path.join(self.outside, 'keep'), 'w') as f:
            f.write('must stay as it is\n')
        os.makedirs(os.path.join(self.outside, 'dir'))

    def before(self):
        self.snap = snapshot(self.top, self.x)

    def unchanged(self):
        return snapshot(self.top, self.x) == self.snap


def run_extract(img, xdir, *extra):
    p = subprocess.run([FSCK, '--extract=' + xdir, '--xattrs'] +
                       list(extra) + [img], capture_output=True, timeout=120)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def case(work, name, img_bytes, want_bits, check=None, prepare=None,
         extra=()):
    """Extract the patched image; want_bits must all be in the status."""
    sb = Sandbox(work)
    img = os.path.join(work, 'case.img')
    with open(img, 'wb') as f:
        f.write(img_bytes)
    if prepare:
        os.makedirs(sb.x)
        prepare(sb)
    sb.before()
    rc, out = run_extract(img, sb.x, *extra)
    why = []
    if rc < 0 or rc >= 128 or 'Sanitizer' in out:
        why.append('crashed (%d)' % rc)
    if want_bits == 0 and rc != 0:
        why.append('exit %d, expected 0' % rc)
    elif want_bits and (rc & want_bits) != want_bits:
        why.append('exit %d, expected bits %d' % (rc, want_bits))
    if not sb.unchanged():
        why.append('something outside DIR changed')
    if check and not why:
        msg = check(sb)
        if msg:
            why.append(msg)
    result(not why, name, '; '.join(why) + ' | ' +
           ' / '.join(out.strip().splitlines()[:3]))


def make_source(d):
    os.makedirs(os.path.join(d, 'dir-one/inner'))
    os.makedirs(os.path.join(d, 'dotcase'))
    os.makedirs(os.path.join(d, 'zzdir-target/child'))
    with open(os.path.join(d, 'zzdir-target/payload-file'), 'w') as f:
        f.write('payload\n')
    with open(os.path.join(d, 'dir-one/inner/leaf-of-inner'), 'w') as f:
        f.write('contents\n')
    with open(os.path.join(d, 'slashXname'), 'w') as f:
        f.write('slash\n')
    # in "dotcase": "-" sorts before ".", ".Q" after "..": renaming them
    # to "." and ".." duplicates the real entries
    for n in ('-', '.Q', 'plain'):
        with open(os.path.join(d, 'dotcase', n), 'w') as f:
            f.write(n + '\n')
    with open(os.path.join(d, 'regular-victim'), 'w') as f:
        f.write('victim\n')
    with open(os.path.join(d, 'hardlink-victim'), 'w') as f:
        f.write('hl\n')
    os.symlink(os.path.join(os.path.dirname(d), 'sbx', 'outside'),
               os.path.join(d, 'evil-abs-link'))
    os.symlink('../outside/keep', os.path.join(d, 'evil-rel-link'))


def main():
    work = tempfile.mkdtemp(prefix='erofs-xsafe.')
    try:
        src = os.path.join(work, 'src')
        make_source(src)
        base_img = os.path.join(work, 'base.img')
        p = subprocess.run([MKFS, '--quiet', base_img, src],
                           capture_output=True)
        if p.returncode:
            result(False, 'build the image', p.stderr.decode()[-300:])
            return 1
        base = Image(base_img)
        link_nid = nid_of(DUMP, base_img, '/evil-abs-link')
        root = base.root_nid

        case(work, 'clean image extracts inside DIR', base.b, 0,
             check=lambda sb: None if os.path.islink(
                 os.path.join(sb.x, 'evil-abs-link')) else 'no symlink made')

        im = Image(base_img)
        im.b[im.find(b'slashXname') + 5] = ord('/')
        im.fix_checksum()
        case(work, "entry named 'slash/name' is refused", im.b, 4,
             check=lambda sb: None if not os.path.exists(
                 os.path.join(sb.x, 'slash')) else 'slash/ was created')

        # the names of dotcase in order: "-", ".", "..", ".Q", "plain"
        names = b'-....Qplain'
        im = Image(base_img)
        im.b[im.find(names)] = ord('.')
        im.fix_checksum()
        case(work, "second entry named '.' is refused", im.b, 4)
        im = Image(base_img)
        im.b[im.find(names) + 5] = ord('.')
        im.fix_checksum()
        case(work, "second entry named '..' is refused", im.b, 4)

        im = Image(base_img)
        # the only ".." of dotcase (third entry) points at a regular file
        dotdot = im.dirent_of_name(names) + 2 * 12
        victim = nid_of(DUMP, base_img, '/regular-victim')
        struct.pack_into('<Q', im.b, dotdot, victim)
        im.fix_checksum()
        case(work, "'..' pointing elsewhere is reported and not followed",
             im.b, 4)

        # symlink-then-file: a directory entry that leads to a symlink
        im = Image(base_img)
        im.set_dirent_nid(b'zzdir-target', link_nid, FT_DIR)
        im.fix_checksum()
        case(work, 'directory entry leading to a symlink: nothing is '
             'written through it', im.b, 4,
             check=lambda sb: None if os.path.islink(
                 os.path.join(sb.x, 'zzdir-target')) else
             'zzdir-target is not the symlink')
        im = Image(base_img)
        im.set_dirent_nid(b'zzdir-target', link_nid, FT_SYMLINK)
        im.fix_checksum()
        case(work, 'entry retyped to the symlink: linked, never followed',
             im.b, 0)

        # hard link to a symlink
        im = Image(base_img)
        im.set_dirent_nid(b'hardlink-victim', link_nid, FT_SYMLINK)
        im.fix_checksum()

        def two_links(sb):
            b = os.path.join(sb.x, 'hardlink-victim')
            if not os.path.islink(b):
                return 'hardlink-victim is not a symlink'
            if os.readlink(b) != os.readlink(
                    os.path.join(sb.x, 'evil-abs-link')):
                return 'hardlink-victim has another target'
            return None
        case(work, 'two entries for one symlink: both are symlinks, none followed',
             im.b, 0, check=two_links)

        # loops and hard-linked directories
        im = Image(base_img)
        inner_parent = nid_of(DUMP, base_img, '/dir-one')
        im.set_dirent_nid(b'leaf-of-inner', inner_parent, FT_DIR)
        im.fix_checksum()
        case(work, 'entry pointing at an ancestor (a loop) is not followed',
             im.b, 4)
        im = Image(base_img)
        im.set_dirent_nid(b'regular-victim', root, FT_DIR)
        im.fix_checksum()
        case(work, 'entry pointing at the root is not followed', im.b, 4)

        # DIR already holds symlinks pointing outside
        def dir_link(sb):
            os.symlink(sb.outside, os.path.join(sb.x, 'zzdir-target'))
            os.symlink(os.path.join(sb.outside, 'keep'),
                       os.path.join(sb.x, 'regular-victim'))
            os.symlink('../outside/dir', os.path.join(sb.x, 'dir-one'))

        case(work, 'existing symlinks in DIR: refused without --overwrite',
             base.b, 8, prepare=dir_link)

        def replaced(sb):
            for n in ('zzdir-target', 'dir-one'):
                if not stat.S_ISDIR(os.lstat(os.path.join(sb.x, n)).st_mode):
                    return n + ' was not replaced by a directory'
            st = os.lstat(os.path.join(sb.x, 'regular-victim'))
            if not stat.S_ISREG(st.st_mode):
                return 'regular-victim was not replaced by a file'
            return None
        case(work, 'existing symlinks in DIR: replaced, not followed, with '
             '--overwrite', base.b, 0, prepare=dir_link, check=replaced,
             extra=('--overwrite',))

        p = subprocess.run([FSCK, '--extract=/', base_img],
                           capture_output=True)
        result(p.returncode == 16, '--extract=/ needs --force',
               'exit %d' % p.returncode)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

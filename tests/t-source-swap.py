#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A source that changes under mkfs.erofs: a user who can write somewhere
in the source swaps, over and over while mkfs runs, a directory for a
symlink to a directory outside the source, or a file for another of the
same size (tests/racer: renameat2 RENAME_EXCHANGE, so the name never
goes missing).
As root the swapping runs as a second user (nobody), as in a rootfs
whose /tmp is writable by anyone. Every build must either fail naming
the path, or give an image in which the outside file is absent and each
file's content belongs with its owner and mode: judged by mounting the
image with the kernel (fsck --extract where loop mounts are not
possible). mkfs.erofs before the fix put the root-only file into the
image within a few runs. And a source deeper than PATH_MAX builds, its
files opened beneath the root in pieces (it failed before; erofs-utils
1.9.4 crashes)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import FSCK, MKFS, exit_status, result  # noqa: E402

RUNS = 60
SECRET = b'root-only secret bytes, must never reach the image\n'
DECOY = b'decoy bytes of the user, allowed in any image here\n'
assert len(SECRET) == len(DECOY)

RACER = os.path.join(os.environ.get('TOP_BUILDDIR', '.'), 'tests/racer')


def nobody():
    try:
        import pwd
        pw = pwd.getpwnam('nobody')
        return pw.pw_uid, pw.pw_gid
    except (ImportError, KeyError):
        return None


def start_racer(a, b, user):
    cmd = [RACER] + (['-u', '%d:%d' % user] if user else []) + [
        'exchange', a, b]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    if p.stdout.readline() != b'go\n':
        raise RuntimeError('racer did not start')
    return p


def mounted(img, mnt):
    r = subprocess.run(['mount', '-t', 'erofs', '-o', 'loop,ro', img, mnt],
                       capture_output=True)
    return r.returncode == 0


def files_of(img, work, use_mount):
    """(path, uid, mode, content) of every regular file in the image."""
    out = []
    if use_mount:
        root = os.path.join(work, 'mnt')
        os.makedirs(root, exist_ok=True)
        if not mounted(img, root):
            raise RuntimeError('mount failed')
    else:
        root = os.path.join(work, 'x')
        shutil.rmtree(root, ignore_errors=True)
        r = subprocess.run([FSCK, '--extract=' + root, '--preserve', img],
                           capture_output=True)
        if r.returncode:
            raise RuntimeError('fsck: ' + r.stderr.decode()[-200:])
    try:
        for d, _, names in os.walk(root):
            for n in names:
                p = os.path.join(d, n)
                st = os.lstat(p)
                if os.path.isfile(p) and not os.path.islink(p):
                    with open(p, 'rb') as f:
                        out.append((os.path.relpath(p, root), st.st_uid,
                                    st.st_mode & 0o7777, f.read()))
    finally:
        if use_mount:
            subprocess.run(['umount', root])
    return out


def build_source(work, user):
    src = os.path.join(work, 'src')
    home = os.path.join(src, 'home')
    os.makedirs(os.path.join(home, 'sub'))
    # files around, so that the scan and the read are apart in time
    for i in range(300):
        with open(os.path.join(src, 'f%03d' % i), 'w') as f:
            f.write('%d\n' % i)
    with open(os.path.join(home, 'sub', 'f'), 'wb') as f:
        f.write(DECOY)
    with open(os.path.join(home, 'f'), 'wb') as f:
        f.write(DECOY)
    # outside the source: the root-only directory and file
    outside = os.path.join(work, 'outside')
    os.makedirs(outside)
    with open(os.path.join(outside, 'f'), 'wb') as f:
        f.write(SECRET)
    os.chmod(os.path.join(outside, 'f'), 0o600)
    # the user's stash, beside the source on the same filesystem
    stash = os.path.join(work, 'stash')
    os.makedirs(stash)
    os.symlink(outside, os.path.join(stash, 'sub'))
    # a hard link to the root-only file: what a user cannot make under
    # protected_hardlinks, so the test makes it for them
    os.link(os.path.join(outside, 'f'), os.path.join(stash, 'f'))
    if user:
        for p in (home, os.path.join(home, 'sub'),
                  os.path.join(home, 'sub', 'f'), os.path.join(home, 'f'),
                  stash):
            os.lchown(p, *user)
        os.lchown(os.path.join(stash, 'sub'), *user)
        for p in (work, src):
            os.chmod(p, 0o755)
    os.chmod(home, 0o755)
    os.chmod(os.path.join(home, 'f'), 0o644)
    return src, stash


def judge(name, work, src, a, b, user, use_mount, check):
    racer = start_racer(a, b, user)
    img = os.path.join(work, 'out.img')
    why = []
    built = failed = 0
    try:
        for i in range(RUNS):
            r = subprocess.run([MKFS, '--quiet', '-T0', '--no-fsync', img,
                                src], capture_output=True, timeout=120)
            if r.returncode:
                msg = r.stderr.decode('utf-8', 'replace')
                if '/home/' not in msg:
                    why.append('run %d: failed without naming the path: %s'
                               % (i, msg.strip()[-200:]))
                    break
                failed += 1
                continue
            built += 1
            bad = check(files_of(img, work, use_mount))
            if bad:
                why.append('run %d: %s' % (i, bad))
                break
    finally:
        racer.kill()
        racer.wait()
    result(not why, '%s (%d images, %d refused)' % (name, built, failed),
           '; '.join(why))


def no_secret(files):
    for path, uid, mode, data in files:
        if SECRET in data:
            return '%s holds the root-only file (uid %d, mode %o)' % (
                path, uid, mode)
    return None


def consistent(user):
    def check(files):
        for path, uid, mode, data in files:
            if SECRET in data and (uid != 0 or mode != 0o600):
                return ('%s holds the root-only file with uid %d and mode '
                        '%o' % (path, uid, mode))
            if DECOY in data and user and uid != user[0]:
                return '%s holds the decoy with uid %d' % (path, uid)
        return None
    return check


def deep_source(work, depth):
    """A chain of "depth" directories "d" holding a file: a path of twice
    "depth" bytes, past PATH_MAX."""
    top = os.path.join(work, 'deep')
    os.makedirs(top)
    fd = os.open(top, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir('d', dir_fd=fd)
        nfd = os.open('d', os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    f = os.open('leaf', os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd)
    os.write(f, b'at the bottom\n')
    os.close(f)
    os.close(fd)
    return top


def same_deep(a, b):
    """Why trees a and b differ (names, types, contents), walked through
    directory descriptors; None if they do not."""
    fa, fb = os.open(a, os.O_RDONLY), os.open(b, os.O_RDONLY)
    depth = 0
    try:
        while True:
            na, nb = sorted(os.listdir(fa)), sorted(os.listdir(fb))
            if na != nb:
                return 'level %d: %s against %s' % (depth, na, nb)
            if na == ['leaf']:
                got = []
                for fd in (fa, fb):
                    f = os.open('leaf', os.O_RDONLY, dir_fd=fd)
                    got.append(os.read(f, 100))
                    os.close(f)
                return None if got[0] == got[1] else 'leaf content differs'
            if na != ['d']:
                return 'level %d: %s' % (depth, na)
            ga = os.open('d', os.O_RDONLY, dir_fd=fa)
            gb = os.open('d', os.O_RDONLY, dir_fd=fb)
            os.close(fa)
            os.close(fb)
            fa, fb = ga, gb
            depth += 1
    finally:
        os.close(fa)
        os.close(fb)


def check_deep(work, use_mount):
    """Files opened beneath the source root in pieces of PATH_MAX."""
    src = deep_source(work, 2100)
    img = os.path.join(work, 'deep.img')
    r = subprocess.run([MKFS, '--quiet', img, src], capture_output=True)
    name = 'a source 2100 levels deep (paths of 4200 bytes)'
    if r.returncode:
        result(False, name, 'mkfs: ' + r.stderr.decode()[-300:])
        return
    root = os.path.join(work, 'mnt' if use_mount else 'xdeep')
    if use_mount:
        if not mounted(img, root):
            result(False, name, 'mount failed')
            return
    else:
        r = subprocess.run([FSCK, '--extract=' + root, img],
                           capture_output=True)
        if r.returncode:
            result(False, name, 'fsck: ' + r.stderr.decode()[-300:])
            return
    try:
        why = same_deep(src, root)
    finally:
        if use_mount:
            subprocess.run(['umount', root])
    result(why is None, name, why or '')


def main():
    if not os.access(RACER, os.X_OK):
        print('SKIP: source swap: %s is not built (make check builds it)'
              % RACER)
        return 0
    root = os.geteuid() == 0
    user = nobody() if root else None
    work = tempfile.mkdtemp(prefix='erofs-swap.')
    try:
        src, stash = build_source(work, user)
        use_mount = False
        if root:
            probe = os.path.join(work, 'probe.img')
            subprocess.run([MKFS, '--quiet', probe, stash],
                           capture_output=True)
            os.makedirs(os.path.join(work, 'mnt'))
            if mounted(probe, os.path.join(work, 'mnt')):
                subprocess.run(['umount', os.path.join(work, 'mnt')])
                use_mount = True
        if not use_mount:
            print('SKIP: kernel oracle: not root or no loop mounts; '
                  'images judged by fsck --extract')
        if not user:
            print('SKIP: second user: not root; the swapping runs as '
                  'this user')
        judge('directory swapped for a symlink to outside the source',
              work, src, os.path.join(src, 'home', 'sub'),
              os.path.join(stash, 'sub'), user, use_mount, no_secret)
        judge('file swapped for another of the same size', work, src,
              os.path.join(src, 'home', 'f'), os.path.join(stash, 'f'),
              user, use_mount, consistent(user))
        check_deep(work, use_mount)
    finally:
        # deeper than Python's recursion limit
        subprocess.run(['rm', '-rf', '--one-file-system', work])
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

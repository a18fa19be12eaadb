#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Tiny images that claim enormous work (tests/hostile_images.py) and the
bounds that keep fsck.erofs and dump.erofs to seconds and megabytes: each
run must end with the exit status its case calls for, name the bound and
its option when it stops at one, and stay under 64 MB of peak RSS (not
asserted on sanitized builds, whose runtimes reserve more). Wall times are
not asserted; bench/hostile.sh measures them.

  holes: 64 GiB of hole behind a fingerprint: not verified (exit 8), at
    once, naming --ishare-holes (before: 84 s);
  bounds per run: two files with 6 MiB of holes each and
    --ishare-holes=8M: the first verified, the second not;
  bomb: 704 KB whose extents all name one cluster decoding to 12 MiB
    (250 GB of content): a plain check decodes the cluster once and finds
    the image clean; with fingerprints, or extracting, it stops at
    --max-decompressed with exit 8 (before: 41 s, and a hang);
  maps: 16 MB of lcluster indexes: fsck and dump -e read them as a stream
    (before: 120 MB of memory);
  share report --verify over the holes and bomb images ends at its bounds
    and says so (before: ran until killed).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import DUMP, FSCK, MKFS, exit_status, result  # noqa: E402
import hostile_images  # noqa: E402

RSS_LIMIT_KB = 64 << 10
TIME_LIMIT = 300  # a hang guard only


def sanitized(path):
    with open(path, 'rb') as f:
        data = f.read()
    return b'__asan_init' in data or b'__ubsan_handle' in data


CHECK_RSS = not any(sanitized(p) for p in (FSCK, DUMP))


GNU_TIME = '/usr/bin/time'


def run(cmd, stdout_to=None):
    """(exit status, output, peak RSS in KB, seconds) of one command, its
    peak from GNU time (0 without it); status None when it had to be
    killed. Standard output goes to "stdout_to" when given."""
    start = time.time()
    with tempfile.NamedTemporaryFile() as rssf:
        if os.access(GNU_TIME, os.X_OK):
            cmd = [GNU_TIME, '-f', '%M', '-o', rssf.name] + cmd
        try:
            p = subprocess.run(cmd, stdout=open(stdout_to, 'w') if stdout_to
                               else subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            return None, '', 0, time.time() - start
        out = (p.stdout or b'').decode('utf-8', 'replace')
        try:
            rss = int(open(rssf.name).read().split()[-1])
        except (ValueError, IndexError):
            rss = 0
    # GNU time reports a child's exit status as its own
    return p.returncode, out, rss, time.time() - start


def judge(name, cmd, want, grep=None, json_check=None, stdout_to=None):
    rc, out, rss, secs = run(cmd, stdout_to)
    why = []
    if rc is None:
        why.append('did not finish within %d s' % TIME_LIMIT)
    else:
        if rc not in want:
            why.append('exit %d, expected %s' % (rc, ' or '.join(
                str(w) for w in want)))
        if grep and grep not in out:
            why.append('no "%s" in the output' % grep)
        for word in ('Sanitizer', 'runtime error'):
            if word in out:
                why.append('reported "%s"' % word)
        if CHECK_RSS and rss > RSS_LIMIT_KB:
            why.append('peak RSS %d KB, over %d KB' % (rss, RSS_LIMIT_KB))
        if json_check and not why:
            try:
                start = out.index('{')
                bad = json_check(json.loads(out[start:out.rindex('}') + 1]))
            except ValueError as e:
                bad = 'no JSON object: %s' % e
            if bad:
                why.append(bad)
    if why:
        why.append(' / '.join(out.strip().splitlines()[-3:]))
    result(not why, '%s (%.1f s, %d KB)' % (name, secs, rss), '; '.join(why))


def two_sparse_files(work, *mkfs_opts):
    """An --ishare image of two files with 6 MiB of holes each."""
    src = os.path.join(work, 'sparse-src')
    os.makedirs(src, exist_ok=True)
    for name in ('a', 'b'):
        with open(os.path.join(src, name), 'wb') as f:
            f.write(name.encode() * 4096)
            f.truncate(6 << 20)
            f.seek(6 << 20)
            f.write(b'end')
    img = os.path.join(work, 'sparse%s.img' % len(mkfs_opts))
    subprocess.run([MKFS, '--quiet', '--ishare'] + list(mkfs_opts) +
                   [img, src], check=True, capture_output=True)
    return img


def left_out(field, minimum=1):
    def check(j):
        lo = j.get('left_out')
        if not isinstance(lo, dict):
            return 'no "left_out" object in the JSON'
        if lo.get('complete') is not False:
            return '"left_out": "complete" is not false'
        if lo.get(field, 0) < minimum:
            return '"left_out": "%s" is %s' % (field, lo.get(field))
        return None
    return check


def main():
    for tool in (MKFS, FSCK, DUMP):
        if not os.access(tool, os.X_OK):
            print('SKIP: budgets: %s is not built' % tool)
            return 0
    if not CHECK_RSS:
        print('SKIP: peak RSS bounds: sanitized build')
    elif not os.access(GNU_TIME, os.X_OK):
        print('SKIP: peak RSS bounds: no %s (package "time")' % GNU_TIME)
    with tempfile.TemporaryDirectory(prefix='erofs-budgets.') as work:
        holes = os.path.join(work, 'holes.img')
        hostile_images.make_holes(os.path.join(work, 'h'), holes)
        bomb = os.path.join(work, 'bomb.img')
        hostile_images.make_bomb(os.path.join(work, 'b'), bomb)
        bomb_fp = os.path.join(work, 'bomb-fp.img')
        hostile_images.make_bomb(os.path.join(work, 'bf'), bomb_fp,
                                 ishare=True)
        maps = os.path.join(work, 'maps.img')
        hostile_images.make_maps(os.path.join(work, 'm'), maps)
        x = os.path.join(work, 'x')

        judge('fsck: 64 GiB of holes behind a fingerprint in %d bytes' %
              os.path.getsize(holes), [FSCK, holes], [8], '--ishare-holes')
        sparse = two_sparse_files(work)
        judge('fsck: bounds are per run: 12 MiB of holes in two files '
              'under --ishare-holes=8M', [FSCK, '--ishare-holes=' +
                                          str(8 << 20), sparse], [8],
              '--ishare-holes')
        judge('fsck: the same two files under the default bound',
              [FSCK, sparse], [0], '2 fingerprints verified')
        nofp = two_sparse_files(work, '--ishare-holes=' + str(8 << 20))
        judge('fsck: a file mkfs --ishare-holes left without a fingerprint '
              'is not checked, not corrupt', [FSCK, nofp], [8],
              'no content fingerprint')

        judge('fsck: %d bytes claiming 250 GB, one cluster decoded once' %
              os.path.getsize(bomb), [FSCK, bomb], [0], 'No errors found')
        judge('fsck: the same with fingerprints stops at the bound',
              [FSCK, bomb_fp], [8], '--max-decompressed')
        judge('fsck --extract stops at --max-decompressed=64M',
              [FSCK, '--extract=' + x, '--max-decompressed=' +
               str(64 << 20), bomb], [8], '--max-decompressed')
        subprocess.run(['rm', '-rf', x])

        judge('fsck: %d MB of lcluster indexes read as a stream' %
              (os.path.getsize(maps) >> 20), [FSCK, maps], [0],
              'No errors found')
        judge('dump -e: the same maps', [DUMP, '-e', '--path=/bomb', maps],
              [0], stdout_to='/dev/null')

        judge('share report --verify over 64 GiB of holes: stops at the '
              'bound and says so in the JSON',
              [DUMP, '--share-report', '--verify', '--json', holes, holes],
              [1], None, left_out('files_over_bound'))
        judge('share report --verify over the bomb with fingerprints',
              [DUMP, '--share-report', '--verify', '--json', bomb_fp,
               bomb_fp], [1], None, left_out('files_over_bound'))
        judge('share report --verify within raised bounds',
              [DUMP, '--share-report', '--verify', '--json',
               '--ishare-holes=' + str(64 << 20), sparse, sparse], [0],
              None, lambda j: None if j['left_out']['complete'] else
              'left_out says incomplete')
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

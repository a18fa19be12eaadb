#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Option parity with erofs-utils 1.9.4: every option its mkfs.erofs,
fsck.erofs and dump.erofs list in --help, every compressor its mkfs
lists, every --tar mode and every -E feature its mkfs.erofs(1) documents
is either accepted by ours or named in our man page as refused (and then
really refused, with a reason and exit status 1).

The lists come from the reference binaries and man page each run, so a
new erofs-utils option shows up here as a failure until it is handled.
"""
import gzip
import os
import re
import subprocess
import tarfile
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fsck_util import DUMP, FSCK, MKFS, exit_status, result  # noqa: E402

TOP_SRCDIR = os.environ.get(
    'TOP_SRCDIR', os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OURS = {'mkfs': MKFS, 'fsck': FSCK, 'dump': DUMP}
# getopt's words for an option it does not know
UNKNOWN = re.compile(r'unrecognized option|invalid option|unknown option')
NEEDS_ARG = re.compile(r'requires an argument')
# how our tools word a refusal
REFUSED = re.compile(r'not supported')


def skip(name, why):
    print('SKIP: %s: %s' % (name, why))


def reference_bin():
    script = os.path.join(TOP_SRCDIR, 'tests/oracle/erofs-utils-new.sh')
    try:
        p = subprocess.run(['bash', script], capture_output=True, text=True,
                           timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0 or not p.stdout.strip():
        return None, (p.stderr.strip().splitlines() or ['exit %d' %
                                                        p.returncode])[-1]
    return p.stdout.strip(), None


def run(argv, stdin=None, cwd=None):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                       input=stdin, cwd=cwd)
    return p.returncode, p.stdout + p.stderr


def help_options(text):
    """Long options (--x) and short ones (-x) a --help text lists."""
    longs, shorts = set(), set()
    for line in text.splitlines():
        longs.update(re.findall(r'(?<![\w-])--[A-Za-z][A-Za-z0-9-]*', line))
        m = re.match(r'\s+(-[A-Za-z](?:, -[A-Za-z])*)(?![A-Za-z-])', line)
        if m:
            shorts.update('-' + c for c in re.findall(r'-([A-Za-z])',
                                                      m.group(1)))
    return longs, shorts


def help_compressors(text):
    """The compressor names mkfs --help lists, one per line."""
    names, on = [], False
    for line in text.splitlines():
        if 'supported compressors' in line:
            on = True
            continue
        if on:
            m = re.match(r'\s{20,}([a-z0-9]+)\s*$', line)
            if m:
                names.append(m.group(1))
            elif re.match(r'\s?-[A-Za-z]', line):
                break
    return names


def help_tar_modes(text):
    m = re.search(r'X = ([a-z|]+);', text)
    return m.group(1).split('|') if m else []


def man_text(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rt', errors='replace') as f:
        return f.read()


def man_features(text):
    """The -E features a mkfs.erofs(1) in roff documents."""
    start = re.search(r'^\.BI "\\-E ', text, re.M)
    if not start:
        return []
    feats, lines = [], text[start.end():].splitlines()
    depth = 0
    for i, line in enumerate(lines):
        if line.startswith('.RS'):
            depth += 1
        elif line.startswith('.RE'):
            depth -= 1
            if depth <= 0:
                break
        elif line.startswith('.TP') and depth == 1 and i + 1 < len(lines):
            item = lines[i + 1]
            m = re.match(r'\.BI?\s+"?([^\s"]+)', item)
            if not m:
                continue
            name = re.sub(r'\\f[RPBI]|\\', '', m.group(1))
            name = re.sub(r'\[.*', '', name.replace('[^]', '').lstrip('^'))
            if name:
                feats.append(name)
    return feats


def refused_section(text):
    """Options our man page names in its EROFS-UTILS OPTIONS REFUSED part."""
    m = re.search(r'^\.SH EROFS-UTILS OPTIONS REFUSED\n(.*?)(?=^\.SH )',
                  text, re.M | re.S)
    if not m:
        return set()
    body = m.group(1).replace('\\', '')
    return set(re.findall(r'(?<![\w-])--?[A-Za-z][A-Za-z0-9-]*(?:=[a-z]+)?',
                          body))


def probe(tool, opt, img, src):
    """'unknown', 'refused' (with the message) or 'accepted'."""
    base = [OURS[tool]]
    tail = [img, src] if tool == 'mkfs' else [img]
    rc, out = run(base + [opt] + tail)
    if UNKNOWN.search(out):
        return 'unknown', out
    if NEEDS_ARG.search(out):
        # give it a value, as a user would
        val = (opt + '=1') if opt.startswith('--') else (opt + '1')
        rc, out = run(base + [val] + tail)
        if UNKNOWN.search(out):
            return 'unknown', out
    if rc != 0 and REFUSED.search(out):
        return 'refused', out
    return 'accepted', out


def check_option(tool, opt, img, src, refused_in_man):
    name = '%s.erofs %s of erofs-utils' % (tool, opt)
    state, out = probe(tool, opt, img, src)
    first = (out.strip().splitlines() or [''])[0]
    if state == 'accepted':
        result(True, name + ' is accepted')
    elif opt in refused_in_man:
        result(state == 'refused', name + ' is refused, as the man page says',
               'our tool does not know it: ' + first)
    else:
        result(False, name + ' is accepted or documented as refused',
               '%s, and man/%s.erofs.1 does not name it as refused: %s' %
               (state, tool, first))


def main():
    eu, why = reference_bin()
    if not eu:
        skip('option parity', 'erofs-utils 1.9.4 unavailable: %s' % why)
        return 0
    ver = run([os.path.join(eu, 'mkfs.erofs'), '--version'])[1]
    if 'erofs-utils' not in ver:
        skip('option parity', 'reference mkfs.erofs --version: ' + ver)
        return 0
    refman = os.path.join(eu, '..', 'root/usr/share/man/man1/mkfs.erofs.1.gz')
    if not os.path.exists(refman):
        refman = '/work/ref/erofs-utils/man/mkfs.erofs.1'

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src')
        os.makedirs(os.path.join(src, 'd'))
        with open(os.path.join(src, 'd', 'f'), 'w') as f:
            f.write('parity\n' * 100)
        img = os.path.join(tmp, 'o.img')
        tarball = os.path.join(tmp, 'l.tar')
        subprocess.run(['tar', '-C', src, '-cf', tarball, '.'], check=True)

        for tool in ('mkfs', 'fsck', 'dump'):
            ref_help = run([os.path.join(eu, tool + '.erofs'), '--help'])[1]
            longs, shorts = help_options(ref_help)
            result(len(longs) > 5,
                   'erofs-utils %s.erofs --help lists options' % tool,
                   ref_help[:200])
            with open(os.path.join(TOP_SRCDIR, 'man', tool + '.erofs.1')) as f:
                refused = refused_section(f.read())
            if tool == 'mkfs':
                # an image to read for fsck and dump
                rc, out = run([MKFS, '--quiet', img, src])
                result(rc == 0, 'mkfs.erofs builds the probe image', out)
            for opt in sorted(longs) + sorted(shorts):
                check_option(tool, opt, img if tool != 'mkfs' else
                             os.path.join(tmp, 'p.img'), src, refused)

            if tool != 'mkfs':
                continue
            with open(os.path.join(TOP_SRCDIR, 'man/mkfs.erofs.1')) as f:
                ourman = f.read().replace('\\', '')
            # compressors
            algs = help_compressors(ref_help)
            result(bool(algs), 'erofs-utils mkfs.erofs --help lists compressors')
            for alg in algs:
                rc, out = run([MKFS, '--quiet', '-z' + alg,
                               os.path.join(tmp, 'z.img'), src])
                first = (out.strip().splitlines() or [''])[0]
                if rc == 0:
                    result(True, 'mkfs.erofs -z%s of erofs-utils is accepted'
                           % alg)
                else:
                    result('-z' + alg in refused,
                           'mkfs.erofs -z%s of erofs-utils is accepted or '
                           'documented as refused' % alg, first)
            # --tar modes
            modes = help_tar_modes(ref_help)
            result(bool(modes), 'erofs-utils mkfs.erofs --help lists --tar modes')
            for mode in modes:
                given = tarball
                if mode == 'headerball':
                    # what it reads: headers without the files' data
                    given = os.path.join(tmp, 'headerball')
                    with tarfile.open(tarball) as full, \
                            open(given, 'wb') as hb:
                        for m in full.getmembers():
                            hb.write(m.tobuf(tarfile.PAX_FORMAT))
                        hb.write(b'\0' * 1024)
                with open(given, 'rb') as t:
                    p = subprocess.run([MKFS, '--quiet', '--tar=' + mode,
                                        os.path.join(tmp, 't.img')],
                                       stdin=t, capture_output=True,
                                       text=True, timeout=120)
                out = p.stdout + p.stderr
                first = (out.strip().splitlines() or [''])[0]
                if p.returncode == 0:
                    result(True, 'mkfs.erofs --tar=%s of erofs-utils is '
                           'accepted' % mode)
                else:
                    result('--tar=' + mode in refused,
                           'mkfs.erofs --tar=%s of erofs-utils is accepted '
                           'or documented as refused' % mode, first)
            # -E features, in both spellings and negated
            feats = man_features(man_text(refman))
            result(len(feats) >= 16,
                   'erofs-utils mkfs.erofs(1) documents -E features',
                   ' '.join(feats))
            # containerd's spelling, which erofs-utils takes too
            for feat in feats + ['noinline_data']:
                for spelling in (['-E' + feat], ['-E', feat],
                                 ['-E^' + feat]):
                    eimg = os.path.join(tmp, 'e.img')
                    if os.path.exists(eimg):
                        os.unlink(eimg)
                    rc, out = run([MKFS, '--quiet'] + spelling + [eimg, src])
                    first = (out.strip().splitlines() or [''])[0]
                    result(rc == 0 or not re.search(
                        r'unknown extended option', out),
                           'mkfs.erofs %s of erofs-utils is accepted' %
                           ' '.join(spelling), first)
                    if os.path.exists(eimg) and rc != 0:
                        result(False, 'a refused -E leaves no image', feat)
            # every option our man page says is refused is refused, exit 1
            for opt in sorted(o for o in refused if o.startswith('--')
                              and o in longs):
                rc, out = run([MKFS, opt + '=x', os.path.join(tmp, 'r.img'),
                               src])
                result(rc == 1 and REFUSED.search(out) and
                       not os.path.exists(os.path.join(tmp, 'r.img')),
                       'mkfs.erofs %s is refused with a reason, exit 1, '
                       'no image' % opt, 'exit %d: %s' % (rc, out.strip()))
            result('--tar=f' in ourman and 'skopeo' in ourman,
                   'mkfs.erofs(1) names the offline way for --oci')
    return exit_status()


if __name__ == '__main__':
    sys.exit(main())

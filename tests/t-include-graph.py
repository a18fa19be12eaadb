#!/usr/bin/env python3
"""The file-level include graph of lib/ has no cycles.

A file of the library is a .c file and the header of the same name
(lib/foo.c and erofs/foo.h are one file "foo" here): foo depends on bar
when lib/foo.c or erofs/foo.h includes erofs/bar.h. A cycle (image ->
data_read -> zmap -> image) means that no file of it can be read, tested
or linked without the others; the graph must be a hierarchy.

Prints the graph's layers with -v; PASS, or FAIL with one cycle.
"""
import os
import re
import sys

TOP = os.environ.get('TOP_SRCDIR',
                     os.path.dirname(os.path.dirname(os.path.abspath(
                         __file__))))
INCLUDE = re.compile(r'^\s*#\s*include\s+"erofs/([A-Za-z0-9_]+)\.h"', re.M)


def header_dirs():
    """Where the private headers are."""
    return [os.path.join(TOP, 'lib', 'erofs')]


def graph():
    files = []
    for name in sorted(os.listdir(os.path.join(TOP, 'lib'))):
        if name.endswith('.c'):
            files.append((name[:-2], os.path.join(TOP, 'lib', name)))
    for d in header_dirs():
        for name in sorted(os.listdir(d)):
            if name.endswith('.h'):
                files.append((name[:-2], os.path.join(d, name)))
    g = {}
    for unit, path in files:
        with open(path, encoding='utf-8', errors='replace') as f:
            deps = set(INCLUDE.findall(f.read()))
        deps.discard(unit)
        g.setdefault(unit, set()).update(deps)
    for deps in list(g.values()):
        for d in deps:
            g.setdefault(d, set())
    return g


def find_cycle(g):
    """One cycle as a list of units, or None (iterative DFS)."""
    state = {}
    for root in sorted(g):
        if root in state:
            continue
        stack = [(root, iter(sorted(g[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(g[nxt]))))
                path.append(nxt)
    return None


def layers(g):
    """Units by depth: layer 0 includes nothing of the library."""
    depth = {}

    def d(u, seen=()):
        if u in depth:
            return depth[u]
        depth[u] = 1 + max((d(v) for v in g[u]), default=-1)
        return depth[u]
    for u in g:
        d(u)
    out = {}
    for u, k in depth.items():
        out.setdefault(k, []).append(u)
    return out


def main():
    if not header_dirs():
        print('FAIL: include graph: no erofs/ header directory under %s'
              % TOP)
        return 1
    g = graph()
    if len(g) < 20:
        print('FAIL: include graph: only %d files found under %s'
              % (len(g), TOP))
        return 1
    cycle = find_cycle(g)
    if cycle:
        print('FAIL: the include graph of lib/ has no cycles: %s'
              % ' -> '.join(cycle))
        return 1
    if '-v' in sys.argv:
        for k, units in sorted(layers(g).items()):
            print('%2d: %s' % (k, ' '.join(sorted(units))))
    print('PASS: the include graph of lib/ has no cycles (%d files, %d '
          'edges)' % (len(g), sum(len(v) for v in g.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())

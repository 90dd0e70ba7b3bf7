#!/usr/bin/env python3
"""Generate the bench's inputs (python3 standard library only).

Usage:
  gen.py page FILE [SIZE]       the 1,024-byte HTML page of workloads 1, 2, 5, 7
                                (SIZE bytes instead: 20480 for workload gzip)
  gen.py upload FILE            the 200-byte JSON document of the upload workloads
  gen.py tree DIR NFILES NDIRS URLPREFIX LIST
                                NFILES 2,048-byte HTML pages spread evenly over
                                NDIRS directories under DIR, and LIST: one URL
                                path a line (URLPREFIX/dNNNN/pNNNNNN.html)

A tree is written only if DIR/.complete does not name the same NFILES and
NDIRS, so running it again on the same DIR reuses the tree; the
marker is written last, so an interrupted generation is redone.
"""
import json
import os
import sys


def page(size, title):
    head = ('<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">'
            f'<title>{title}</title></head>\n<body>\n<h1>Benchmark page</h1>\n')
    tail = '</body>\n</html>\n'
    para = '<p>The quick brown fox jumps over the lazy dog.</p>\n'
    body = ''
    while len(head) + len(body) + len(para) + len(tail) <= size - 16:
        body += para
    text = head + body + tail
    text = text.replace('</body>', '<!--' + 'x' * (size - len(text) - 7) + '--></body>', 1)
    assert len(text) == size, len(text)
    return text


def cmd_page(path, size=1024):
    with open(path, 'w') as f:
        f.write(page(size, 'bench'))


def cmd_upload(path):
    doc = {"type": "bench", "id": 12345, "ok": True, "tags": ["a", "b", "c"], "note": ""}
    doc["note"] = "x" * (200 - len(json.dumps(doc, separators=(",", ":"))))
    text = json.dumps(doc, separators=(",", ":"))
    assert len(text) == 200
    with open(path, 'w') as f:
        f.write(text)


def cmd_tree(top, nfiles, ndirs, prefix, listfile):
    if nfiles < 1 or ndirs < 1 or ndirs > nfiles:
        sys.exit("gen.py tree: need 1 <= NDIRS <= NFILES")
    marker = os.path.join(top, '.complete')
    want = f'{nfiles} {ndirs}\n'
    paths = [f'd{i % ndirs:04d}/p{i:06d}.html' for i in range(nfiles)]
    try:
        with open(marker) as f:
            fresh = f.read() != want
    except FileNotFoundError:
        fresh = True
    if fresh:
        os.makedirs(top, exist_ok=True)
        for d in range(ndirs):
            os.makedirs(os.path.join(top, f'd{d:04d}'), exist_ok=True)
            os.chmod(os.path.join(top, f'd{d:04d}'), 0o755)
        # Every page the same size; the title makes each one distinct.
        for i, rel in enumerate(paths):
            with open(os.path.join(top, rel), 'w') as f:
                f.write(page(2048, f'page {i}'))
            os.chmod(os.path.join(top, rel), 0o644)
        os.chmod(top, 0o755)
        with open(marker, 'w') as f:
            f.write(want)
    prefix = prefix.rstrip('/')
    with open(listfile, 'w') as f:
        for rel in paths:
            f.write(f'{prefix}/{rel}\n')
    print('generated' if fresh else 'reused')


def main(argv):
    if len(argv) in (3, 4) and argv[1] == 'page':
        cmd_page(argv[2], int(argv[3]) if len(argv) == 4 else 1024)
    elif len(argv) == 3 and argv[1] == 'upload':
        cmd_upload(argv[2])
    elif len(argv) == 7 and argv[1] == 'tree':
        cmd_tree(argv[2], int(argv[3]), int(argv[4]), argv[5], argv[6])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main(sys.argv)

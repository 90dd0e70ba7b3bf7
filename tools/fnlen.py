#!/usr/bin/env python3
"""Print every C function in src/*.c longer than N lines (default 150).

A function body is taken as it is written in this tree: a line at column 0
that opens a function (not a comment, preprocessor line, declaration ending
in ';' or an initialiser ending in '='), through the next line that is a
closing brace at column 0. The length counted is from the line that starts
the definition (its return type, which may sit on the line before the name)
to the closing brace, both included.

Usage: tools/fnlen.py [-n N] [FILE...]   (files default to src/*.c)
Exit status: 0 when none is over N, 1 when some are, 2 on a usage error.
"""
import argparse
import glob
import os
import re
import sys

# A definition's first line: starts at column 0 with an identifier and has
# an opening parenthesis; not a statement, label, or declaration.
START = re.compile(r'^[A-Za-z_][A-Za-z0-9_ \t\*]*\(')
NOT_START = re.compile(r'^(typedef|return|if|for|while|switch|do|else|case|goto)\b')
NAME = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*\(')


def functions(path):
    """Yield (name, first line, last line) for every function of one file."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().split('\n')
    i = 0
    in_comment = False
    while i < len(lines):
        line = lines[i]
        if in_comment:
            if '*/' in line:
                in_comment = False
            i += 1
            continue
        if line.startswith('/*') and '*/' not in line:
            in_comment = True
            i += 1
            continue
        if not START.match(line) or NOT_START.match(line):
            i += 1
            continue
        # Gather the declarator up to the '{' at column 0 (or at the end of
        # a line); give up at ';' or '=' (a prototype or a variable).
        j = i
        opened = None
        while j < len(lines):
            text = lines[j].split('//')[0].rstrip()
            if j > i and (lines[j].startswith('{') or text.endswith('{')):
                opened = j
                break
            if j == i and text.endswith('{'):
                opened = j
                break
            if text.endswith(';') or text.endswith('=') or (j > i and text == ''):
                break
            j += 1
        if opened is None:
            i = j + 1
            continue
        m = NAME.search(line)
        name = m.group(1) if m else '?'
        # The return type may sit alone on the line before the name.
        first = i
        if i > 0 and lines[i - 1] and not lines[i - 1][0].isspace() and \
                not lines[i - 1].startswith(('}', '/', '#', '*')) and \
                not lines[i - 1].rstrip().endswith((';', '{', '}', '*/')):
            first = i - 1
        k = opened + 1
        while k < len(lines) and not lines[k].startswith('}'):
            k += 1
        yield name, first + 1, k + 1
        i = k + 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-n', type=int, default=150, help='longest allowed (lines)')
    ap.add_argument('files', nargs='*')
    args = ap.parse_args()
    files = args.files
    if not files:
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'src')
        files = sorted(glob.glob(os.path.join(root, '*.c')))
    over = 0
    for path in files:
        for name, first, last in functions(path):
            n = last - first + 1
            if n > args.n:
                print(f'{os.path.relpath(path)}:{first}: {name}: {n} lines (over {args.n})')
                over += 1
    return 1 if over else 0


if __name__ == '__main__':
    sys.exit(main())

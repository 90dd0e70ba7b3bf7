#!/usr/bin/env python3
"""Runs every tests/integration/test_*.py module (two at a time, each in its
own process, each with a time limit) and prints "N passed, N failed"."""
import concurrent.futures
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MODULE_TIMEOUT = 600


class CountingResult(unittest.TextTestResult):
    pass


def run_module(name):
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.loadTestsFromName(name)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1)
    res = runner.run(suite)
    # A test whose subtests fail is reported once per subtest: count tests.
    def test_id(t):
        return getattr(t, "test_case", t).id()
    bad = {test_id(t) for t, _ in res.failures + res.errors}
    bad |= {test_id(t) for t in res.unexpectedSuccesses}
    failed = len(bad)
    passed = max(res.testsRun - failed - len(res.skipped), 0)
    print("%s: %d passed, %d failed" % (name, passed, failed))
    return failed


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--module":
        sys.exit(1 if run_module(sys.argv[2]) else 0)
    only = sys.argv[1:]
    mods = sorted(f[:-3] for f in os.listdir(HERE) if f.startswith("test_") and f.endswith(".py"))
    if only:
        mods = [m for m in mods if any(o in m for o in only)]

    def one(m):
        try:
            p = subprocess.run([sys.executable, __file__, "--module", m], capture_output=True,
                               timeout=MODULE_TIMEOUT, cwd=HERE)
            out = (p.stdout + p.stderr).decode("utf-8", "replace")
        except subprocess.TimeoutExpired as e:
            out = ((e.stdout or b"") + (e.stderr or b"")).decode("utf-8", "replace")
            out += "\n%s: timed out after %d s\n" % (m, MODULE_TIMEOUT)
        return m, out

    passed = failed = 0
    jobs = int(os.environ.get("TEST_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        for m, out in ex.map(one, mods):
            sys.stdout.write(out if not out.endswith("\n") else out)
            mm = re.search(r"^%s: (\d+) passed, (\d+) failed$" % re.escape(m), out, re.M)
            if mm:
                passed += int(mm.group(1))
                failed += int(mm.group(2))
            else:
                print("%s: no result (crashed or timed out): counted as 1 failure" % m)
                failed += 1
            sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()

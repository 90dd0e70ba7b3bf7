"""Running as a system service (issue 14): `make install`/`uninstall` with
DESTDIR and PREFIX, the mthttpd(8) man page against --help, the systemd
units (systemd-analyze verify), the NOTIFY_SOCKET readiness protocol, and
--user (the privilege drop)."""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import unittest
import uuid

import harness
from harness import BIN, TIMEOUT, build_request

TOP = harness.TOP
MAN = os.path.join(TOP, "mthttpd.8")
UNITS = os.path.join(TOP, "deploy", "systemd")
UNIT_BIN = "/usr/local/sbin/mthttpd"  # the path the checked-in unit names



def help_options():
    out = subprocess.run([BIN, "--help"], capture_output=True, timeout=TIMEOUT, check=True).stdout.decode()
    return option_names(out)


def option_names(text):
    """Every long option and every short option that text names."""
    longs = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*[a-z]", text))
    shorts = set(re.findall(r"(?<![\w-])-[A-Za-z](?![\w-])", text))
    return longs | shorts


def render_man(width=200):
    """The man page as plain text: no hyphenation, wide lines, no overstrike."""
    p = subprocess.run([harness.need("groff"), "-man", "-Tutf8", "-rHY=0", "-rLL=%dn" % width, "-P-cbou", MAN],
                       capture_output=True, timeout=TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("groff failed: %r" % p.stderr)
    return p.stdout.decode("utf-8")


def man_section(text, name):
    m = re.search(r"^%s\n(.*?)(?=^[A-Z][A-Z ]+\n)" % re.escape(name), text, re.M | re.S)
    if m is None:
        raise AssertionError("no %s section in the man page" % name)
    return m.group(1)


# ======================================================================
class TestInstall(unittest.TestCase):
    """make install / uninstall: exactly four files, all inside DESTDIR."""

    def make(self, *args, trace=None):
        # Install the binary under test: with the sanitizer build, make's
        # own BIN is build/asan/mthttpd (so nothing needs building here).
        flavour = ["SANITIZE=1"] if os.path.realpath(BIN) == os.path.join(TOP, "build", "asan", "mthttpd") else []
        argv = ["make", "-s", "-C", TOP] + flavour + list(args)
        if trace:
            argv = [harness.need("strace"), "-f", "-qq", "-y", "-e", "trace=%file,%process,chdir,fchdir",
                    "-o", trace] + argv
        p = subprocess.run(argv, capture_output=True, timeout=120)
        self.assertEqual(p.returncode, 0, "%r: %r" % (args, p.stderr[-2000:]))

    def files_under(self, d):
        out = {}
        for dp, dn, fn in os.walk(d):
            for f in fn:
                p = os.path.join(dp, f)
                out[os.path.relpath(p, d)] = stat.S_IMODE(os.lstat(p).st_mode)
        return out

    def writes(self, trace):
        """Absolute paths that the traced processes created, wrote, removed
        or changed (open for writing, mkdir, unlink, rename, chmod...).
        Relative paths are resolved against each process's working
        directory, followed through chdir/fchdir and inherited on clone."""
        mutating = {"mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2",
                    "link", "linkat", "symlink", "symlinkat", "chmod", "fchmodat", "chown", "lchown",
                    "fchownat", "truncate", "utimensat", "creat", "mknod", "mknodat"}
        cwd = {}
        changed = []
        with open(trace) as f:
            lines = f.read().splitlines()
        for line in lines:
            m = re.match(r"^(\d+)\s+(?:<\.\.\. )?(\w+)(.*)$", line)
            if m is None:
                continue
            pid, call, rest = int(m.group(1)), m.group(2), m.group(3)
            here = cwd.setdefault(pid, TOP)
            ret = re.search(r"\)\s+= (-?\d+)", rest)
            if ret is None or int(ret.group(1)) < 0 or "unfinished" in rest:
                continue
            if call in ("clone", "clone3", "fork", "vfork"):
                cwd[int(ret.group(1))] = here
                continue
            if call == "chdir":
                cwd[pid] = os.path.normpath(os.path.join(here, re.search(r'"([^"]*)"', rest).group(1)))
                continue
            if call == "fchdir":
                cwd[pid] = re.search(r"<([^>]*)>", rest).group(1)
                continue
            writing = call in mutating or (call in ("open", "openat", "openat2")
                                           and re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", rest))
            if not writing:
                continue
            base = here
            dirfd = re.match(r"\((\d+)<([^>]*)>,", rest)
            if dirfd:  # *at() relative to a descriptor
                base = dirfd.group(2)
            path = re.search(r'"([^"]*)"', rest)
            if path:
                changed.append((os.path.normpath(os.path.join(base, path.group(1))), line))
        return changed

    def outside(self, changed, dest):
        return [(p, ln) for p, ln in changed
                if not p.startswith(dest + os.sep) and p not in ("/dev/null", "/dev/tty")]

    def test_destdir_staging_install_and_uninstall(self):
        self.assertTrue(os.path.exists(BIN))
        dest = tempfile.mkdtemp(prefix="mthttpd-destdir-")
        trace = os.path.join(tempfile.mkdtemp(prefix="mthttpd-strace-"), "trace")
        self.addCleanup(shutil.rmtree, dest, True)
        self.addCleanup(shutil.rmtree, os.path.dirname(trace), True)
        before_default = os.path.exists("/usr/local/sbin/mthttpd")
        self.make("install", "DESTDIR=" + dest, trace=trace)
        want = {"usr/local/sbin/mthttpd": 0o755,
                "usr/local/share/man/man8/mthttpd.8": 0o644,
                "usr/local/lib/systemd/system/mthttpd.service": 0o644,
                "usr/local/lib/systemd/system/mthttpd.socket": 0o644}
        self.assertEqual(self.files_under(dest), want)
        with open(os.path.join(dest, "usr/local/sbin/mthttpd"), "rb") as a, open(BIN, "rb") as b:
            self.assertEqual(a.read(), b.read(), "installed binary differs from the built one")
        with open(os.path.join(dest, "usr/local/lib/systemd/system/mthttpd.service")) as f:
            self.assertRegex(f.read(), r"(?m)^ExecStart=/usr/local/sbin/mthttpd ")
        # Every change the install made is inside DESTDIR.
        changed = self.writes(trace)
        self.assertTrue(changed, "the trace saw no write at all")
        self.assertEqual(len([p for p, _ in changed if p.startswith(dest + os.sep)]) >= 4, True, changed)
        self.assertEqual(self.outside(changed, dest), [], "install changed files outside DESTDIR")
        self.assertEqual(os.path.exists("/usr/local/sbin/mthttpd"), before_default)
        # Uninstall takes every file back, and also stays inside DESTDIR.
        self.make("uninstall", "DESTDIR=" + dest, trace=trace)
        self.assertEqual(self.files_under(dest), {})
        changed = self.writes(trace)
        self.assertEqual(sorted(p for p, _ in changed if "unlink" in _),
                         sorted(os.path.join(dest, f) for f in want))
        self.assertEqual(self.outside(changed, dest), [], "uninstall changed files outside DESTDIR")

    def test_prefix_and_unit_dir(self):
        dest = tempfile.mkdtemp(prefix="mthttpd-destdir-")
        self.addCleanup(shutil.rmtree, dest, True)
        prefix = "/opt/mthttpd-" + uuid.uuid4().hex[:8]
        self.make("install", "DESTDIR=" + dest, "PREFIX=" + prefix, "SYSTEMDUNITDIR=/etc/systemd/system")
        rel = prefix.lstrip("/")
        self.assertEqual(set(self.files_under(dest)),
                         {rel + "/sbin/mthttpd", rel + "/share/man/man8/mthttpd.8",
                          "etc/systemd/system/mthttpd.service", "etc/systemd/system/mthttpd.socket"})
        with open(os.path.join(dest, "etc/systemd/system/mthttpd.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^ExecStart=%s/sbin/mthttpd " % re.escape(prefix))
        self.assertNotIn(UNIT_BIN, unit)
        self.assertFalse(os.path.exists(prefix))
        self.make("uninstall", "DESTDIR=" + dest, "PREFIX=" + prefix, "SYSTEMDUNITDIR=/etc/systemd/system")
        self.assertEqual(self.files_under(dest), {})


# ======================================================================
class TestManPage(unittest.TestCase):

    def test_groff_no_warnings(self):
        p = subprocess.run([harness.need("groff"), "-man", "-ww", "-z", MAN], capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertEqual(p.stderr, b"")
        self.assertEqual(p.stdout, b"")

    def test_man_renders(self):
        env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", LC_ALL="C.UTF-8")
        p = subprocess.run([harness.need("man"), "-P", "cat", os.path.abspath(MAN)], capture_output=True,
                           timeout=TIMEOUT, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = re.sub(r".\x08", "", p.stdout.decode("utf-8", "replace"))  # overstrike bold/underline
        self.assertIn("mthttpd - multi-threaded HTTP/1.1", out)
        for section in ("SYNOPSIS", "OPTIONS", "SIGNALS", "EXIT STATUS", "ENVIRONMENT", "FILES",
                        "LOGS", "STATUS CODES", "EXAMPLES"):
            self.assertRegex(out, r"(?m)^%s$" % section)

    def test_options_match_help(self):
        man_opts = option_names(man_section(render_man(), "OPTIONS"))
        helped = help_options()
        self.assertIn("--user", helped)
        self.assertIn("--log-format", helped)
        self.assertEqual(sorted(helped - man_opts), [], "in --help but not in the man page")
        self.assertEqual(sorted(man_opts - helped), [], "in the man page but not in --help")

    def test_every_option_is_an_item(self):
        # Each option has its own entry (a line starting with it), not
        # just a mention in another's text.
        opts = man_section(render_man(), "OPTIONS")
        items = set()
        for line in opts.splitlines():
            if re.match(r"^ {7}-", line):
                items |= option_names(line)
        self.assertEqual(items, help_options())


# ======================================================================
class TestSystemdUnits(unittest.TestCase):

    def unit(self, name):
        with open(os.path.join(UNITS, name)) as f:
            return f.read()

    def test_verify_clean(self):
        tool = harness.need("systemd-analyze")
        d = tempfile.mkdtemp(prefix="mthttpd-units-")
        self.addCleanup(shutil.rmtree, d, True)
        for name in ("mthttpd.service", "mthttpd.socket"):
            text = self.unit(name).replace(UNIT_BIN, os.path.abspath(BIN))
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
        # Documentation=man:mthttpd(8) is checked too: give man the page.
        mandir = os.path.join(d, "man", "man8")
        os.makedirs(mandir)
        shutil.copy(MAN, mandir)
        env = dict(os.environ, MANPATH=os.path.join(d, "man"), SYSTEMD_LOG_LEVEL="notice")
        p = subprocess.run([tool, "verify", os.path.join(d, "mthttpd.service"), os.path.join(d, "mthttpd.socket")],
                           capture_output=True, timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr.decode() + p.stdout.decode(), "")

    def test_verify_sees_a_broken_unit(self):
        # The counterpart: verify does fail on what it should catch (a
        # binary that is not there), so the clean run above means something.
        tool = harness.need("systemd-analyze")
        d = tempfile.mkdtemp(prefix="mthttpd-units-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "mthttpd.service"), "w") as f:
            f.write(self.unit("mthttpd.service").replace(UNIT_BIN, "/nonexistent/mthttpd"))
        p = subprocess.run([tool, "verify", "--man=no", os.path.join(d, "mthttpd.service")],
                           capture_output=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)

    def test_service_hardening(self):
        u = self.unit("mthttpd.service")
        for line in ("Type=notify", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                     "ProtectHome=yes", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
                     "SystemCallFilter=@system-service", "CapabilityBoundingSet=",
                     "ExecReload=/bin/kill -HUP $MAINPID"):
            self.assertRegex(u, r"(?m)^%s$" % re.escape(line))
        rw = re.search(r"(?m)^ReadWritePaths=(.*)$", u)
        self.assertIsNotNone(rw)
        execstart = re.search(r"(?m)^ExecStart=(\S+) (.*)$", u)
        self.assertEqual(execstart.group(1), UNIT_BIN)
        args = execstart.group(2).split()
        uploads = args[args.index("--uploads") + 1]
        alog = args[args.index("--access-log") + 1]
        paths = rw.group(1).split()
        self.assertTrue(any(uploads.startswith(p.rstrip("/") + "/") or uploads == p for p in paths), paths)
        self.assertTrue(any(alog.startswith(p.rstrip("/") + "/") for p in paths), paths)
        # Every option the unit passes is one the binary knows.
        self.assertTrue(option_names(" ".join(args)) <= help_options())

    def test_socket_unit(self):
        s = self.unit("mthttpd.socket")
        self.assertRegex(s, r"(?m)^\[Socket\]$")
        self.assertRegex(s, r"(?m)^ListenStream=\S+$")


# ======================================================================
class NotifySocket:
    """A Unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.dir = None
        if abstract:
            name = "mthttpd-test-" + uuid.uuid4().hex
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            self.dir = tempfile.mkdtemp(prefix="mthttpd-notify-")
            path = os.path.join(self.dir, "notify")
            self.sock.bind(path)
            self.env = path
        self.sock.settimeout(TIMEOUT)

    def recv(self):
        """The next message as a dict of its KEY=VALUE lines."""
        data = self.sock.recv(4096).decode()
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def close(self):
        self.sock.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class TestNotify(harness.ServerTest):
    class_server = False  # every test starts its own

    def run_protocol(self, abstract):
        ns = NotifySocket(abstract)
        self.addCleanup(ns.close)
        srv = self.start_server(extra_env={"NOTIFY_SOCKET": ns.env}, threads=2)
        try:
            msg = ns.recv()
            self.assertEqual(msg.get("READY"), "1", msg)
            self.assertIn("127.0.0.1:%d" % srv.port, msg.get("STATUS", ""))
            # READY means serving: the listening line is out, requests work.
            self.assertIsNotNone(srv.wait_log(r"\[main\] .*listening on 127\.0\.0\.1:%d" % srv.port))
            self.assertEqual(srv.get("/index.html").status, 200)
            # SIGHUP: RELOADING=1 stamped with CLOCK_MONOTONIC, then READY=1.
            t0 = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)
            msg = ns.recv()
            t1 = time.monotonic()
            self.assertEqual(msg.get("RELOADING"), "1", msg)
            usec = int(msg["MONOTONIC_USEC"])
            self.assertTrue(t0 * 1e6 - 1000 <= usec <= t1 * 1e6 + 1000, (t0, usec, t1))
            msg = ns.recv()
            self.assertEqual(msg.get("READY"), "1", msg)
            self.assertEqual(srv.get("/index.html").status, 200)
            # SIGTERM: STOPPING=1, then exit 0.
            srv.proc.send_signal(signal.SIGTERM)
            msg = ns.recv()
            self.assertEqual(msg.get("STOPPING"), "1", msg)
            self.assertEqual(srv.proc.wait(TIMEOUT), 0)
        finally:
            srv.stop()

    def test_path_socket(self):
        self.run_protocol(abstract=False)

    def test_abstract_socket(self):
        self.run_protocol(abstract=True)

    def test_no_notify_socket_no_message(self):
        # Without NOTIFY_SOCKET the server runs as before (nothing to send).
        env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
        p = subprocess.run([BIN, "--help"], env=env, capture_output=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        srv = self.start_server(threads=1)
        try:
            self.assertEqual(srv.get("/").status, 200)
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_bad_notify_socket_is_a_warning(self):
        srv = self.start_server(extra_env={"NOTIFY_SOCKET": "relative/path"}, threads=1)
        try:
            self.assertIsNotNone(srv.wait_log(r"\[warn\] NOTIFY_SOCKET relative/path: "))
            self.assertEqual(srv.get("/").status, 200)
        finally:
            self.assertEqual(srv.stop(), 0)


# ======================================================================
def ids(pid):
    """(uids, gids, groups) from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        st = f.read()
    uids = [int(x) for x in re.search(r"(?m)^Uid:\s+(.*)$", st).group(1).split()]
    gids = [int(x) for x in re.search(r"(?m)^Gid:\s+(.*)$", st).group(1).split()]
    groups = [int(x) for x in re.search(r"(?m)^Groups:\s*(.*)$", st).group(1).split()]
    return uids, gids, groups


@unittest.skipIf(os.geteuid() != 0, "--user needs the tests to run as root")
class TestUser(harness.ServerTest):
    class_server = False  # every test starts its own

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pw = pwd.getpwnam("nobody")

    def setUp(self):
        self.root = self.fresh_root()
        os.chmod(self.root, 0o755)  # mkdtemp made it 0700: nobody could not read it
        self.logdir = tempfile.mkdtemp(prefix="mthttpd-userlog-")
        os.chmod(self.logdir, 0o755)
        self.addCleanup(shutil.rmtree, self.logdir, True)

    def start(self, *args, alog=None):
        srv = self.start_server("--user", "nobody", *args, root=self.root, threads=2,
                                access_log=alog or os.path.join(self.logdir, "access.log"))
        return srv

    def test_runs_as_nobody_and_serves(self):
        srv = self.start()
        uids, gids, groups = ids(srv.proc.pid)
        self.assertEqual(uids, [self.pw.pw_uid] * 4)
        self.assertEqual(gids, [self.pw.pw_gid] * 4)
        self.assertEqual(sorted(groups), sorted(set(os.getgrouplist("nobody", self.pw.pw_gid))))
        self.assertIsNotNone(srv.wait_log(r"running as user nobody"))
        r = srv.get("/index.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"<!doctype html><title>home</title><p>home</p>\n")
        # the uploads directory it created belongs to nobody, and uploads work
        up = os.path.join(self.root, "uploads")
        self.assertEqual((os.stat(up).st_uid, os.stat(up).st_gid), (self.pw.pw_uid, self.pw.pw_gid))
        body = b'{"as":"nobody"}'
        r = srv.get("/upload", method="POST", body=body,
                    headers={"Content-Type": "application/json", "Content-Length": str(len(body))})
        self.assertEqual(r.status, 201, r)
        name = r.header("Location").rsplit("/", 1)[1]
        st = os.stat(os.path.join(up, name))
        self.assertEqual(st.st_uid, self.pw.pw_uid)
        with open(os.path.join(up, name), "rb") as f:
            self.assertEqual(f.read(), body)
        self.assertEqual(srv.stop(), 0)

    def test_group_given(self):
        g = grp.getgrnam("nogroup") if "nogroup" in [x.gr_name for x in grp.getgrall()] else grp.getgrgid(self.pw.pw_gid)
        srv = self.start_server("--user", "nobody:" + g.gr_name, root=self.root, threads=1, access_log="off")
        uids, gids, _ = ids(srv.proc.pid)
        self.assertEqual(uids, [self.pw.pw_uid] * 4)
        self.assertEqual(gids, [g.gr_gid] * 4)
        self.assertEqual(srv.get("/").status, 200)

    @staticmethod
    def logged(path, text):
        try:
            with open(path) as f:
                return text in f.read()
        except FileNotFoundError:
            return False

    def test_sighup_reopens_as_the_user(self):
        os.chown(self.logdir, self.pw.pw_uid, self.pw.pw_gid)  # nobody may create files here
        path = os.path.join(self.logdir, "access.log")
        srv = self.start(alog=path)
        self.assertEqual(srv.get("/index.html?before").status, 200)
        deadline = time.monotonic() + 5
        while not self.logged(path, "?before"):  # flushed within a second
            self.assertLess(time.monotonic(), deadline, "access log never flushed")
            time.sleep(0.05)
        os.rename(path, path + ".1")
        n = len(srv.log)
        srv.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(srv.wait_log(r"\[info\] SIGHUP: reopened access log %s$" % re.escape(path), start=n))
        self.assertTrue(os.path.exists(path))
        self.assertEqual(os.stat(path).st_uid, self.pw.pw_uid)
        self.assertEqual(srv.get("/index.html?after").status, 200)
        self.assertEqual(srv.stop(), 0)
        with open(path) as f:
            new = f.read()
        with open(path + ".1") as f:
            old = f.read()
        self.assertIn("GET /index.html?after ", new)
        self.assertNotIn("?after", old)
        self.assertIn("GET /index.html?before ", old)

    def test_sighup_reopen_refused_keeps_the_old_file(self):
        # The log's directory belongs to root: nobody cannot create the
        # file again after rotation. The error is logged, and lines keep
        # going to the file that was open.
        path = os.path.join(self.logdir, "access.log")
        srv = self.start(alog=path)
        os.rename(path, path + ".1")
        n = len(srv.log)
        srv.proc.send_signal(signal.SIGHUP)
        m = srv.wait_log(r"\[error\] SIGHUP: cannot reopen access log %s: Permission denied; "
                         r"still writing to the file opened before" % re.escape(path), start=n)
        self.assertIsNotNone(m, srv.log[n:])
        self.assertFalse(os.path.exists(path))
        self.assertEqual(srv.get("/index.html?still").status, 200)
        self.assertEqual(srv.stop(), 0)
        with open(path + ".1") as f:
            self.assertIn("GET /index.html?still ", f.read())

    def run_fail(self, args):
        p = subprocess.run([BIN, "--port", "0"] + args, capture_output=True, timeout=TIMEOUT,
                           stdin=subprocess.DEVNULL)
        err = p.stderr.decode()
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertNotIn("listening", err)
        return p.returncode, err

    def test_uploads_not_writable_by_user(self):
        up = os.path.join(self.root, "uploads")
        os.mkdir(up, 0o755)  # root's
        alog = os.path.join(self.logdir, "new.log")
        rc, err = self.run_fail(["--root", self.root, "--user", "nobody", "--access-log", alog])
        self.assertEqual(rc, 1, err)
        self.assertIn(up, err)
        self.assertIn("nobody", err)
        self.assertFalse(os.path.exists(alog), "access log created by a start that failed")

    def test_root_not_readable_by_user(self):
        os.chmod(self.root, 0o700)
        up = os.path.join(self.logdir, "uploads")
        rc, err = self.run_fail(["--root", self.root, "--user", "nobody", "--uploads", up, "--access-log", "off"])
        self.assertEqual(rc, 1, err)
        self.assertIn("document root", err)
        self.assertIn("nobody", err)
        self.assertFalse(os.path.exists(up))

    def test_unknown_user_exit_2(self):
        for spec, word in (("no-such-user-xyz", "no-such-user-xyz"), ("nobody:no-such-group-xyz", "no-such-group-xyz"),
                           ("", "--user"), ("nobody:", "--user")):
            with self.subTest(spec=spec):
                rc, err = self.run_fail(["--root", self.root, "--access-log", "off", "--user", spec])
                self.assertEqual(rc, 2, err)
                self.assertIn(word, err)


if __name__ == "__main__":
    unittest.main()

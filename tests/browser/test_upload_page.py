#!/usr/bin/env python3
"""resources/upload.html in a real browser (issue 13): headless Chromium
loads it from mthttpd, uploads valid JSON from the text area and from the
file picker, and invalid JSON, and the test reads the resulting DOM; then
the same page uploads to a second server on another origin, allowed by
--cors-origin there, and to a third that does not list it. Loopback only,
every wait bounded. Prints "N passed, N failed" last."""
import os
import re
import shutil
import sys
import tempfile
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

import cdp  # noqa: E402
from harness import Server  # noqa: E402

RESOURCES = os.path.join(TOP, "resources")
DONE = "['ok','refused','error'].includes(document.getElementById('status').dataset.state)"
LINK_RE = re.compile(r"^http://127\.0\.0\.1:(\d+)/uploads/upload_\d{8}_\d{6}_[a-z0-9]{6,}\.json$")


def fetch(url):
    assert url.startswith("http://127.0.0.1:"), url
    with urllib.request.urlopen(url, timeout=cdp.TIMEOUT) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


@unittest.skipIf(cdp.find_chromium() is None, "chromium is not installed (make test-deps)")
class UploadPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dirs = [tempfile.mkdtemp(prefix="mthttpd-uploads-") for _ in range(3)]
        cls.site = Server("--uploads", cls.dirs[0], root=RESOURCES)
        cls.origin = "http://127.0.0.1:%d" % cls.site.port
        cls.other = Server("--uploads", cls.dirs[1], "--cors-origin", cls.origin, root=RESOURCES)
        cls.closed = Server("--uploads", cls.dirs[2], root=RESOURCES)
        cls.browser = cdp.Browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        for s in (cls.site, cls.other, cls.closed):
            s.stop()
        for d in cls.dirs:
            shutil.rmtree(d, ignore_errors=True)

    def open_page(self, query=""):
        self.browser.navigate(self.origin + "/upload.html" + query)
        self.assertEqual(self.browser.evaluate("document.getElementById('status').dataset.state"), "idle")

    def submit(self, text=None):
        b = self.browser
        if text is not None:
            b.evaluate("document.getElementById('json').value = %s" % _js(text))
        b.evaluate("document.getElementById('send').click()")
        b.wait_for(DONE)
        return {
            "state": b.evaluate("document.getElementById('status').dataset.state"),
            "status": b.evaluate("document.getElementById('status').dataset.status"),
            "text": b.evaluate("document.getElementById('status').textContent"),
            "link": b.evaluate("(document.getElementById('link') || {}).href || null"),
            "dom": b.dom(),
        }

    def assert_stored(self, res, sent, port):
        self.assertEqual(res["state"], "ok", res["text"])
        self.assertEqual(res["status"], "201")
        m = LINK_RE.match(res["link"] or "")
        self.assertIsNotNone(m, res["link"])
        self.assertEqual(int(m.group(1)), port)
        self.assertIn('id="link"', res["dom"])
        status, ctype, body = fetch(res["link"])
        self.assertEqual((status, ctype), (200, "application/json"))
        self.assertEqual(body, sent)

    def test_1_text_area_valid_json(self):
        self.open_page()
        text = '{"hello": "br\u00f6wser", "n": [1, 2.5, -3e2], "ok": true}'
        res = self.submit(text)
        self.assert_stored(res, text.encode(), self.site.port)

    def test_2_invalid_json_shows_the_servers_message(self):
        self.open_page()
        res = self.submit('{"a": [1, 2,, 3]}')
        self.assertEqual(res["state"], "refused", res["text"])
        self.assertEqual(res["status"], "400")
        m = re.search(r"400 Bad Request: invalid JSON at byte (\d+)", res["text"])
        self.assertIsNotNone(m, res["text"])
        self.assertEqual(int(m.group(1)), 12)
        self.assertIn("invalid JSON at byte 12", res["dom"])
        self.assertNotIn('id="link"', res["dom"])

    def test_3_file_picker_sends_the_file_as_it_is(self):
        data = b'[\r\n  {"k": "v\\u00e9"},\r\n  null\r\n]\r\n'
        fd, path = tempfile.mkstemp(suffix=".json")
        self.addCleanup(os.remove, path)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.open_page()
        self.browser.set_files("#file", [path])
        res = self.submit("this text is not sent")
        self.assert_stored(res, data, self.site.port)

    def test_4_cross_origin_with_cors_origin(self):
        other = "http://127.0.0.1:%d" % self.other.port
        self.open_page("?server=" + other)
        text = '{"cross": "origin"}'
        res = self.submit(text)
        self.assert_stored(res, text.encode(), self.other.port)

    def test_5_cross_origin_not_listed_fails_in_the_browser(self):
        closed = "http://127.0.0.1:%d" % self.closed.port
        self.open_page("?server=" + closed)
        res = self.submit('{"x": 1}')
        self.assertEqual(res["state"], "error", res["text"])
        self.assertIn("Failed to fetch", res["text"])
        self.assertIn("--cors-origin", res["text"])
        self.assertEqual([n for n in os.listdir(self.dirs[2]) if n.endswith(".json")], [])


def _js(s):
    import json
    return json.dumps(s)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    res = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    bad = len(res.failures) + len(res.errors)
    print("%d passed, %d failed" % (res.testsRun - bad - len(res.skipped), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

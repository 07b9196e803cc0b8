#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub, for tests/test_download.c (standard library only).

Listens on two free ports of 127.0.0.1 and prints "<hub port> <cdn port>" on one line.
The hub answers /<owner>/<repo>/resolve/<revision>/<path> like huggingface.co does:
  - small files: 200 with ETag (git blob hash), X-Repo-Commit, Content-Length;
  - "LFS" files: 302 to http://127.0.0.1:<cdn port>/cdn/<repo>/<path> with X-Linked-Etag
    (sha256 of the bytes), X-Linked-Size and X-Repo-Commit. The CDN, like S3, refuses any
    request carrying an Authorization header (so a token leaked to it fails the test);
  - test/gated needs "Authorization: Bearer hf_fake_token", else 401 (X-Error-Code GatedRepo);
  - unknown repo: 401 RepoNotFound; unknown revision or file: 404 (RevisionNotFound,
    EntryNotFound).
Special files of test/open: flaky.bin is cut in the middle on its first download only;
bad_sha.bin announces the sha256 of other bytes; stall.bin sends half and then nothing.
/plain/voice.wav is a plain file; /plain/moved.wav redirects to it on the CDN port.
GET /_log returns one line per request seen ("hub|cdn METHOD PATH AUTH-or--") and
clears the log. File contents are pattern(n, seed) below; test_download.c makes the same.
The server exits on SIGTERM, when its parent dies, or after 10 minutes.

Arguments add repositories served from local folders (every file as an LFS file):
  REPO[@COMMIT]=DIR   e.g. kyutai/pocket-tts-without-voice-cloning=tests/fixtures/models/tiny
  +REPO[@COMMIT]=DIR  the same, gated: it needs the Bearer token
"""
import hashlib
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "hf_fake_token"
OPEN_COMMIT = "1f0e2d3c4b5a69788796a5b4c3d2e1f001122334"
GATED_COMMIT = "2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d"


def pattern(n, seed):
    return bytes((i * 31 + seed * 7 + (i >> 8)) & 0xFF for i in range(n))


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# repo -> (commit, needs_token, {path: (bytes, is_lfs)})
REPOS = {
    "test/open": (
        OPEN_COMMIT,
        False,
        {
            "config.json": (b'{"fake": "hub"}\n', False),
            "weights/model.bin": (pattern(300000, 1), True),
            "flaky.bin": (pattern(200000, 2), True),
            "bad_sha.bin": (pattern(1000, 3), True),
            "stall.bin": (pattern(100000, 5), True),
            "cancel.bin": (pattern(500000, 8), True),
        },
    ),
    "test/gated": (GATED_COMMIT, True, {"model.bin": (pattern(5000, 6), True)}),
}
PLAIN = pattern(4096, 7)

state = {"log": [], "flaky_cut": False}
lock = threading.Lock()
ports = {}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    kind = "hub"

    def log_message(self, *args):
        pass

    def send(self, code, headers=(), body=b"", length=None):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.route()

    def do_GET(self):
        self.route()

    def route(self):
        auth = self.headers.get("Authorization")
        if self.path.startswith("/_log"):
            with lock:
                body = "".join(l + "\n" for l in state["log"]).encode()
                state["log"].clear()
            return self.send(200, [("Content-Type", "text/plain")], body)
        with lock:
            state["log"].append("%s %s %s %s" % (self.kind, self.command, self.path, auth or "-"))
        if self.kind == "cdn":
            return self.cdn(auth)
        if self.path.startswith("/plain/"):
            return self.plain()
        return self.hub(auth)

    def plain(self):
        if self.path.split("?")[0] == "/plain/voice.wav":
            return self.send(200, [("Content-Type", "audio/wav")], PLAIN)
        if self.path == "/plain/moved.wav":
            loc = "http://127.0.0.1:%d/plain/voice.wav" % ports["cdn"]
            return self.send(302, [("Location", loc)])
        return self.send(404, body=b"not found")

    def hub(self, auth):
        parts = self.path.split("/", 5)  # "", owner, repo, "resolve", rev, path
        if len(parts) < 6 or parts[3] != "resolve":
            return self.send(404, body=b"no route")
        repo, rev, path = parts[1] + "/" + parts[2], parts[4], parts[5]
        if repo not in REPOS:
            return self.send(401, [("X-Error-Code", "RepoNotFound")], b"Repository not found")
        commit, needs_token, files = REPOS[repo]
        if needs_token and auth != "Bearer " + TOKEN:
            return self.send(
                401,
                [("X-Error-Code", "GatedRepo"), ("X-Error-Message", "Access to model is restricted")],
                b"gated",
            )
        if rev not in ("main", commit):
            return self.send(404, [("X-Error-Code", "RevisionNotFound")], b"Invalid rev id")
        if path not in files:
            return self.send(
                404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)], b"Entry not found"
            )
        data, lfs = files[path]
        if not lfs:
            return self.send(
                200, [("ETag", 'W/"%s"' % git_blob_sha1(data)), ("X-Repo-Commit", commit)], data
            )
        sha = hashlib.sha256(pattern(1000, 4) if path == "bad_sha.bin" else data).hexdigest()
        loc = "http://127.0.0.1:%d/cdn/%s/%s" % (ports["cdn"], repo, path)
        body = b"Found. Redirecting to " + loc.encode()
        return self.send(
            302,
            [
                ("Location", loc),
                ("ETag", '"%s"' % git_blob_sha1(b"pointer " + sha.encode())),
                ("X-Linked-Etag", '"%s"' % sha),
                ("X-Linked-Size", str(len(data))),
                ("X-Repo-Commit", commit),
            ],
            body,
        )

    def cdn(self, auth):
        if auth is not None:
            return self.send(400, body=b"Only one auth mechanism allowed")
        if self.path == "/plain/voice.wav":
            return self.send(200, [], PLAIN)
        if not self.path.startswith("/cdn/"):
            return self.send(404)
        owner, name, path = self.path[5:].split("/", 2)
        entry = REPOS.get(owner + "/" + name, (None, None, {}))[2].get(path)
        if entry is None:
            return self.send(404)
        data = entry[0]
        cut = False
        if path == "flaky.bin" and self.command == "GET":
            with lock:
                cut, state["flaky_cut"] = not state["flaky_cut"], True
        if cut or path == "stall.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if path == "stall.bin":
                time.sleep(5)
            self.close_connection = True
            return
        return self.send(200, [("ETag", '"%s"' % hashlib.sha256(data).hexdigest())], data)


class CdnHandler(Handler):
    kind = "cdn"


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that give up (stall test) are expected


def watchdog(parent):
    start = time.monotonic()
    while os.getppid() == parent and time.monotonic() - start < 600:
        time.sleep(0.5)
    os._exit(0)


def add_repos(args):
    for arg in args:
        gated = arg.startswith("+")
        repo, folder = arg.lstrip("+").split("=", 1)
        repo, _, commit = repo.partition("@")
        files = {}
        for root, _, names in os.walk(folder):
            for name in names:
                full = os.path.join(root, name)
                with open(full, "rb") as f:
                    files[os.path.relpath(full, folder)] = (f.read(), True)
        REPOS[repo] = (commit or hashlib.sha1(arg.encode()).hexdigest(), gated, files)


def main():
    add_repos(sys.argv[1:])
    hub = Server(("127.0.0.1", 0), Handler)
    cdn = Server(("127.0.0.1", 0), CdnHandler)
    ports["hub"], ports["cdn"] = hub.server_address[1], cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    threading.Thread(target=watchdog, args=(os.getppid(),), daemon=True).start()
    print("%d %d" % (ports["hub"], ports["cdn"]), flush=True)
    hub.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

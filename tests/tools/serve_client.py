#!/usr/bin/env python3
"""A client for `pocket-tts serve`, for tests/cli/test_serve.sh and bench/load_test.sh
(Python standard library only). Every command prints one line and exits 0 when its check
holds, 1 when it does not.

  serve_client.py port LOG                 the port a server announced in its log (waits 20 s)
  serve_client.py health URL               GET /health is {"status": "healthy"}
  serve_client.py page URL                 GET / is an HTML page with a form and an <audio>
  serve_client.py voices URL NAME          GET /v1/voices lists NAME first, as the default
  serve_client.py tts URL OUT [--text T] [--voice-url V] [--voice-wav FILE]
                                           POST /tts (multipart); a 200 streamed WAV into OUT
  serve_client.py speech URL OUT JSON      POST /v1/audio/speech with the JSON body; a 200 into
                                           OUT (WAV or raw PCM by response_format)
  serve_client.py same A B                 the two files hold the same samples (WAV: after the
                                           44-byte header; a .pcm file: all of it)
  serve_client.py expect URL STATUS TEXT REQUEST...
                                           a raw request (see below) gets STATUS and a JSON
                                           "detail" containing TEXT; then /health still works
  serve_client.py concurrent URL N REF [REF2 VOICE]
                                           N requests at once for TEXT (below), /v1/audio/speech
                                           and /tts in turn, every fourth one uploading the audio
                                           file VOICE when given: each equals its reference (REF
                                           for the default voice, REF2 for VOICE)
  serve_client.py disconnect URL TEXT MAX_S
                                           a long request is dropped after its first audio; a
                                           short one must then be served within MAX_S seconds
  serve_client.py busy URL TEXT            with the only worker busy and no queue, a request
                                           gets 503 with Retry-After
  serve_client.py timeout URL TEXT MAX_S   the server cuts a stream longer than its request
                                           timeout (the chunked body ends without its last
                                           chunk) within MAX_S seconds
  serve_client.py remote URL OUT FILE      serves FILE on a local HTTP port and asks /tts for
                                           it as voice_url (needs --allow-remote-voices)
  serve_client.py hub PORT_FILE NAME=FILE...
                                           a stand-in Hugging Face hub on 127.0.0.1 serving FILE
                                           as any repository's .../NAME.safetensors; writes its
                                           port to PORT_FILE and serves until killed
  serve_client.py load URL SECONDS CONCURRENCY TEXT
                                           requests for SECONDS from CONCURRENCY clients; prints
                                           requests per second and latency percentiles; fails
                                           on any error

Raw requests for `expect`: `multipart FIELD=VALUE|FIELD=@FILE ...` (a well-formed form),
`json TEXT`, `raw METHOD PATH CONTENT-TYPE BODY` (BODY: text, or @FILE), `big PATH TYPE N`
(declares N bytes with Expect: 100-continue and sends them only after a 100).
The short requests of `concurrent`, `disconnect` and `busy` speak TEXT (serve_client.TEXT).
"""
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TIMEOUT = 120
TEXT = "Hello world. This is the server test."


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)


def multipart(fields):
    """fields: [(name, value bytes, filename or None)] -> (content type, body)."""
    boundary = "pocketttsboundary%x" % int(time.time() * 1e6)
    out = []
    for name, value, filename in fields:
        disp = 'form-data; name="%s"' % name
        if filename is not None:
            disp += '; filename="%s"' % filename
        out.append(b"--" + boundary.encode() + b"\r\n")
        out.append(b"Content-Disposition: " + disp.encode() + b"\r\n")
        if filename is not None:
            out.append(b"Content-Type: application/octet-stream\r\n")
        out.append(b"\r\n" + value + b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return "multipart/form-data; boundary=" + boundary, b"".join(out)


def form_fields(specs):
    fields = []
    for s in specs:
        name, _, value = s.partition("=")
        if value.startswith("@"):
            with open(value[1:], "rb") as f:
                fields.append((name, f.read(), os.path.basename(value[1:])))
        else:
            fields.append((name, value.encode(), None))
    return fields


def request(url, method, path, ctype=None, body=None, headers=None):
    """(status, headers dict (lowercase names), body bytes)."""
    c = connect(url)
    h = dict(headers or {})
    if ctype:
        h["Content-Type"] = ctype
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, hdrs, data


def tts_fields(text, voice_url=None, voice_wav=None):
    fields = [("text", text.encode(), None)]
    if voice_url is not None:
        fields.append(("voice_url", voice_url.encode(), None))
    if voice_wav is not None:
        with open(voice_wav, "rb") as f:
            fields.append(("voice_wav", f.read(), "voice.wav"))
    return fields


def post_tts(url, fields):
    ctype, body = multipart(fields)
    return request(url, "POST", "/tts", ctype, body)


def post_speech(url, obj):
    return request(url, "POST", "/v1/audio/speech", "application/json", json.dumps(obj).encode())


def check_audio(status, hdrs, data, ctype):
    if status != 200:
        fail("status %d: %s" % (status, data[:300]))
    if hdrs.get("content-type") != ctype:
        fail("content type %r, want %r" % (hdrs.get("content-type"), ctype))
    if hdrs.get("transfer-encoding") != "chunked":
        fail("not streamed with chunked encoding: %r" % hdrs)
    if ctype == "audio/wav":
        if data[:4] != b"RIFF" or data[8:16] != b"WAVEfmt " or data[36:40] != b"data":
            fail("not a WAV stream")
        if data[4:8] != b"\xff\xff\xff\xff" or data[40:44] != b"\xff\xff\xff\xff":
            fail("the WAV header is not a streaming one")


def samples_of(path):
    with open(path, "rb") as f:
        data = f.read()
    return data if path.endswith(".pcm") else data[44:]


def cmd_port(log):
    end = time.time() + 20
    while time.time() < end:
        try:
            with open(log) as f:
                m = re.search(r"serving on http://[^ ]*:(\d+)", f.read())
            if m:
                print(m.group(1))
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail("no 'serving on' line in " + log)


def cmd_health(url):
    status, hdrs, data = request(url, "GET", "/health")
    if status != 200 or json.loads(data) != {"status": "healthy"}:
        fail("GET /health: %d %r" % (status, data))
    print("healthy")


def cmd_page(url):
    status, hdrs, data = request(url, "GET", "/")
    page = data.decode()
    need = ["<audio", "<textarea", "/v1/voices", "/tts", 'type="file"', 'id="consent"']
    missing = [n for n in need if n not in page]
    if status != 200 or not hdrs.get("content-type", "").startswith("text/html") or missing:
        fail("GET /: %d %s, missing %s" % (status, hdrs.get("content-type"), missing))
    print("page of %d bytes" % len(data))


def cmd_voices(url, name):
    status, hdrs, data = request(url, "GET", "/v1/voices")
    j = json.loads(data)
    if status != 200 or j.get("default") != name or j.get("voices", [None])[0] != name:
        fail("GET /v1/voices: %d %r" % (status, j))
    print("%d voices, default %s" % (len(j["voices"]), name))


def cmd_tts(url, out, args):
    opts = {"--text": "Hello world.", "--voice-url": None, "--voice-wav": None}
    for i in range(0, len(args), 2):
        opts[args[i]] = args[i + 1]
    status, hdrs, data = post_tts(url, tts_fields(opts["--text"], opts["--voice-url"],
                                                  opts["--voice-wav"]))
    check_audio(status, hdrs, data, "audio/wav")
    with open(out, "wb") as f:
        f.write(data)
    print("%d bytes, %.2f s of audio" % (len(data), (len(data) - 44) / 48000))


def cmd_speech(url, out, body):
    obj = json.loads(body)
    status, hdrs, data = post_speech(url, obj)
    fmt = obj.get("response_format") or "wav"
    check_audio(status, hdrs, data, "audio/pcm" if fmt == "pcm" else "audio/wav")
    with open(out, "wb") as f:
        f.write(data)
    print("%d bytes" % len(data))


def cmd_same(a, b):
    x, y = samples_of(a), samples_of(b)
    if x != y:
        n = min(len(x), len(y))
        first = next((i for i in range(n) if x[i] != y[i]), n)
        fail("%s and %s differ: %d vs %d bytes, first difference at byte %d"
             % (a, b, len(x), len(y), first))
    print("same %d samples" % (len(x) // 2))


def raw_exchange(url, data, expect_100=None):
    """Sends data (bytes) on a new socket; with expect_100 (the body), sends the head first and
    the body only after a 100 Continue. Returns (status, headers dict, body)."""
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    s.sendall(data)
    f = s.makefile("rb")
    line = f.readline()
    if expect_100 is not None and b" 100 " in line:
        while f.readline() not in (b"\r\n", b""):
            pass
        s.sendall(expect_100)
        line = f.readline()
    m = re.match(rb"HTTP/1\.[01] (\d+)", line)
    if not m:
        fail("no HTTP status line: %r" % line)
    hdrs = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, _, v = h.decode().partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", "0"))
    body = f.read(n) if n else b""
    s.close()
    return int(m.group(1)), hdrs, body


def cmd_expect(url, want, text, req):
    kind = req[0]
    u = urllib.parse.urlsplit(url)
    host = "%s:%d" % (u.hostname, u.port)
    if kind == "multipart":
        status, hdrs, data = post_tts(url, form_fields(req[1:]))
    elif kind == "json":
        status, hdrs, data = request(url, "POST", "/v1/audio/speech", "application/json",
                                     req[1].encode())
    elif kind == "raw":
        method, path, ctype, body = req[1:5]
        if body.startswith("@"):
            with open(body[1:], "rb") as f:
                body = f.read()
        else:
            body = body.encode()
        head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, host)
        if ctype != "-":
            head += "Content-Type: %s\r\n" % ctype
        head += "Content-Length: %d\r\n\r\n" % len(body)
        status, hdrs, data = raw_exchange(url, head.encode() + body)
    elif kind == "big":
        path, ctype, n = req[1], req[2], int(req[3])
        head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                "Expect: 100-continue\r\nConnection: close\r\n\r\n" % (path, host, ctype, n))
        status, hdrs, data = raw_exchange(url, head.encode(), b"\0" * n)
    else:
        fail("unknown request kind " + kind)
    try:
        detail = json.loads(data).get("detail", "")
    except ValueError:
        detail = None
    if status != int(want) or detail is None or text not in detail:
        fail("status %d (want %s), body %r" % (status, want, data[:300]))
    if status == 405 and "allow" not in hdrs:
        fail("405 without an Allow header")
    if status == 503 and "retry-after" not in hdrs:
        fail("503 without Retry-After")
    s2, _, d2 = request(url, "GET", "/health")
    if s2 != 200:
        fail("the server stopped serving after that: %d %r" % (s2, d2))
    print("%d %s" % (status, detail))


def cmd_concurrent(url, n, ref, ref2=None, voice_wav=None):
    want = {0: samples_of(ref)}
    if ref2:
        want[1] = samples_of(ref2)
    results = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        uploaded = ref2 is not None and i % 4 == 3
        try:
            if i % 2 == 0:
                st, h, d = post_speech(url, {"model": "tts-1", "input": TEXT})
            else:
                st, h, d = post_tts(url, tts_fields(TEXT, voice_wav=voice_wav if uploaded else None))
            results[i] = (st, d[44:], 1 if uploaded else 0)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = (repr(e), b"", 0)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [(i, r[0]) for i, r in enumerate(results) if r[0] != 200 or r[1] != want[r[2]]]
    if bad:
        fail("requests that failed or differ from the serial audio: %r" % bad)
    print("%d concurrent requests in %.2f s, all equal to the serial audio" % (n, time.time() - t0))


def open_stream(url, text):
    """Starts a /tts request and reads its first audio; returns the open connection."""
    c = connect(url)
    ctype, body = multipart(tts_fields(text))
    c.request("POST", "/tts", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    if r.status != 200:
        fail("the long request got %d %r" % (r.status, r.read()[:200]))
    first = r.read(4096)
    if len(first) < 4096:
        fail("no audio streamed from the long request")
    return c, r


def cmd_disconnect(url, text, max_s):
    c, r = open_stream(url, text)
    t0 = time.time()
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    st, h, d = post_tts(url, tts_fields(TEXT))
    dt = time.time() - t0
    if st != 200 or dt > float(max_s):
        fail("after a client left, the next request took %.2f s (status %d)" % (dt, st))
    print("next request served %.2f s after a client went away" % dt)


def cmd_busy(url, text):
    c, r = open_stream(url, text)
    st, h, d = post_tts(url, tts_fields(TEXT))
    c.close()
    if st != 503 or "retry-after" not in h:
        fail("with the worker busy: %d %r %r" % (st, h, d[:200]))
    print("503, Retry-After: %s" % h["retry-after"])


def cmd_timeout(url, text, max_s):
    c = connect(url)
    ctype, body = multipart(tts_fields(text))
    t0 = time.time()
    c.request("POST", "/tts", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    if r.status != 200:
        fail("status %d" % r.status)
    try:
        data = r.read()
        fail("the stream ended normally after %.2f s (%d bytes)" % (time.time() - t0, len(data)))
    except http.client.IncompleteRead as e:
        dt = time.time() - t0
        if dt > float(max_s):
            fail("cut only after %.2f s" % dt)
        print("cut after %.2f s and %d bytes" % (dt, len(e.partial)))


def cmd_remote(url, out, path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "audio/wav")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    voice = "http://127.0.0.1:%d/%s" % (srv.server_address[1], os.path.basename(path))
    try:
        st, h, d = post_tts(url, tts_fields(TEXT, voice_url=voice))
    finally:
        srv.shutdown()
    check_audio(st, h, d, "audio/wav")
    with open(out, "wb") as f:
        f.write(d)
    print("%d bytes with the voice %s" % (len(d), voice))


def cmd_hub(port_file, specs):
    files = {}
    for spec in specs:
        name, _, path = spec.partition("=")
        with open(path, "rb") as f:
            files[name + ".safetensors"] = f.read()

    class Hub(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_HEAD(self):  # noqa: N802 - http.server's naming
            self.answer()

        def do_GET(self):  # noqa: N802
            self.answer()

        def answer(self):
            parts = self.path.split("/")  # "", owner, repo, "resolve", revision, path...
            data = files.get(parts[-1]) if len(parts) > 5 and parts[3] == "resolve" else None
            self.send_response(200 if data is not None else 404)
            if data is not None:
                self.send_header("X-Repo-Commit", parts[4])
                self.send_header("ETag", '"%s"' % hashlib.sha1(data).hexdigest())
            body = data if data is not None else b"not found"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def timed_request(url, path, ctype, body):
    """(status, seconds to the response head, i.e. the first audio, total seconds, length)."""
    t0 = time.time()
    c = connect(url)
    c.request("POST", path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    t1 = time.time()
    n = len(r.read())
    c.close()
    return r.status, t1 - t0, time.time() - t0, n


def cmd_load(url, seconds, conc, text):
    seconds, conc = float(seconds), int(conc)
    lat, first, errors = [], [], []
    lock = threading.Lock()
    end = time.time() + seconds
    form = multipart(tts_fields(text))
    speech = json.dumps({"input": text}).encode()

    def client(i):
        while time.time() < end:
            try:
                if i % 2:
                    st, t1, t, n = timed_request(url, "/v1/audio/speech", "application/json",
                                                 speech)
                else:
                    st, t1, t, n = timed_request(url, "/tts", form[0], form[1])
                ok = st == 200 and n > 44
            except Exception as e:  # noqa: BLE001 - counted as an error
                ok, st = False, repr(e)
            with lock:
                if ok:
                    lat.append(t)
                    first.append(t1)
                else:
                    errors.append(st)

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    lat.sort()
    first.sort()

    def pct(v, p):
        return 1000 * v[min(len(v) - 1, int(p / 100 * len(v)))] if v else float("nan")

    print("%d requests in %.1f s from %d clients: %.2f req/s; latency p50 %.0f ms, p90 %.0f ms, "
          "p99 %.0f ms, max %.0f ms; first audio p50 %.0f ms, p90 %.0f ms, p99 %.0f ms; %d errors"
          % (len(lat), wall, conc, len(lat) / wall, pct(lat, 50), pct(lat, 90), pct(lat, 99),
             pct(lat, 100), pct(first, 50), pct(first, 90), pct(first, 99), len(errors)))
    if errors or not lat:
        fail("errors: %r" % errors[:5])


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        sys.exit(2)
    cmd, a = argv[1], argv[2:]
    if cmd == "port":
        cmd_port(a[0])
    elif cmd == "health":
        cmd_health(a[0])
    elif cmd == "page":
        cmd_page(a[0])
    elif cmd == "voices":
        cmd_voices(a[0], a[1])
    elif cmd == "tts":
        cmd_tts(a[0], a[1], a[2:])
    elif cmd == "speech":
        cmd_speech(a[0], a[1], a[2])
    elif cmd == "same":
        cmd_same(a[0], a[1])
    elif cmd == "expect":
        cmd_expect(a[0], a[1], a[2], a[3:])
    elif cmd == "concurrent":
        cmd_concurrent(a[0], int(a[1]), a[2], *(a[3:5] if len(a) >= 5 else []))
    elif cmd == "disconnect":
        cmd_disconnect(a[0], a[1], a[2])
    elif cmd == "busy":
        cmd_busy(a[0], a[1])
    elif cmd == "timeout":
        cmd_timeout(a[0], a[1], a[2])
    elif cmd == "remote":
        cmd_remote(a[0], a[1], a[2])
    elif cmd == "hub":
        cmd_hub(a[0], a[1:])
    elif cmd == "load":
        cmd_load(*a[:4])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/env python3
"""Drives headless Chromium through the page of `pocket-tts serve` (tests/cli/test_web.sh),
with the DevTools protocol over --remote-debugging-pipe (no port, no WebSocket; Python
standard library only).

  web_check.py CHROMIUM URL REF.wav VOICE.wav REF_CLONE.wav

Checks, one line each ("ok ..." or "FAIL ..."), then "N passed, N failed":
  - the page loads and lists the server's voices;
  - Speak with the default voice: the audio plays while it streams (Web Audio pieces scheduled
    before the end), then the <audio> element holds the WAV, plays it (its `playing` event
    fires, its duration is the audio's), and the bytes are those of REF.wav;
  - an upload without the consent box ticked is refused on the page; with it ticked, the
    cloned audio equals REF_CLONE.wav;
  - Stop ends a generation that is streaming;
  - an error from the server (text too long) is shown to the user.
Exit status 0 when every check holds.
"""
import base64
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time

TIMEOUT = 60


class Browser:
    """Chromium with a DevTools pipe: messages are JSON texts ending with a NUL byte."""

    def __init__(self, exe):
        self.profile = tempfile.mkdtemp(prefix="ptts-web-")
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        # Above the child's 3 and 4, so that the dup2 calls below cannot clobber them.
        hi_r = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.close(to_child_r)
        os.close(from_child_w)

        def child_fds():
            os.dup2(hi_r, 3)
            os.dup2(hi_w, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--no-default-browser-check", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", "--user-data-dir=" + self.profile,
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=child_fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(hi_r)
        os.close(hi_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        while True:
            m = self.read()
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def read(self):
        end = time.time() + TIMEOUT
        while b"\0" not in self.buf:
            if time.time() > end:
                raise RuntimeError("no answer from Chromium")
            chunk = os.read(self.from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def wait_event(self, method, session):
        end = time.time() + TIMEOUT
        while time.time() < end:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    del self.events[i]
                    return e
            self.events.append(self.read())
        raise RuntimeError("no " + method)

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        subprocess.run(["rm", "-rf", self.profile], check=False)


class Page:
    def __init__(self, browser, url):
        self.b = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = browser.send("Target.attachToTarget",
                              {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Page.enable", session=self.s)
        # The checks read the page's blob: URLs back, which its CSP (rightly) forbids.
        browser.send("Page.setBypassCSP", {"enabled": True}, session=self.s)
        browser.send("Page.navigate", {"url": url}, session=self.s)
        browser.wait_event("Page.loadEventFired", self.s)

    def eval(self, js):
        """Runs an async function body; returns its value (JSON)."""
        r = self.b.send("Runtime.evaluate", {
            "expression": "(async () => {%s})()" % js, "awaitPromise": True,
            "returnByValue": True, "userGesture": True, "timeout": TIMEOUT * 1000}, session=self.s)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"].get("exception", {}).get("description")
                               or r["exceptionDetails"].get("text"))
        return r["result"].get("value")


# Helpers defined in the page for the checks below.
PRELUDE = r"""
const $ = (id) => document.getElementById(id);  /* the page has the same, globally */
window.sleep = (ms) => new Promise((r) => setTimeout(r, ms));
window.untilSettled = async () => {
  for (let i = 0; i < 600; i++) {
    const s = document.body.dataset.state;
    if (s === "done" || s === "error") return s;
    await sleep(50);
  }
  return "timeout";
};
window.playerBytes = async () => {
  const b = new Uint8Array(await (await fetch($("player").src)).arrayBuffer());
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
};
window.speakAndWait = async () => {
  document.body.dataset.state = "idle";
  $("error").textContent = "";
  $("speak").click();
  return await untilSettled();
};
return true;
"""


def samples(data):
    return data[44:]


def main(argv):
    exe, url, ref, voice, ref_clone = argv[1:6]
    with open(ref, "rb") as f:
        want = samples(f.read())
    with open(ref_clone, "rb") as f:
        want_clone = samples(f.read())
    with open(voice, "rb") as f:
        voice_b64 = base64.b64encode(f.read()).decode()
    text = json.dumps(os.environ.get("PTTS_WEB_TEXT", "Hello world. This is the server test."))
    passed = failed = 0

    def check(name, cond, info=""):
        nonlocal passed, failed
        if cond:
            passed += 1
            print("ok   %s %s" % (name, info))
        else:
            failed += 1
            print("FAIL %s %s" % (name, info))

    b = Browser(exe)
    try:
        p = Page(b, url + "/")
        p.eval(PRELUDE)
        voices = p.eval("""
          for (let i = 0; i < 100 && !$("voice").options.length; i++) await sleep(50);
          return [...$("voice").options].map((o) => [o.value, o.selected]);""")
        check("the voices are listed", voices and ["golden", True] in voices, json.dumps(voices)[:80])

        # A text of a few seconds of generation: the audio must start long before the end.
        long_text = json.dumps(" ".join("Sentence number %d is here to make the text long." % i
                                        for i in range(35)))
        r = p.eval("""
          $("text").value = %s;
          const t0 = performance.now();
          let firstLive = null;
          new MutationObserver(() => { if (firstLive === null) firstLive = performance.now(); })
            .observe(document.body, {attributes: true, attributeFilter: ["data-live"]});
          const state = await speakAndWait();
          return {state, liveAt: firstLive && firstLive - t0, doneAt: performance.now() - t0};"""
                   % long_text)
        check("streaming: audio plays long before the end", r["state"] == "done"
              and r["liveAt"] is not None and r["liveAt"] < r["doneAt"] / 3, json.dumps(r))

        # Speak with the default voice, live playback on.
        r = p.eval("""
          $("text").value = %s;
          const t0 = performance.now();
          let firstLive = null;
          new MutationObserver(() => { if (firstLive === null) firstLive = performance.now(); })
            .observe(document.body, {attributes: true, attributeFilter: ["data-live"]});
          const state = await speakAndWait();
          return {state, error: $("error").textContent, live: +(document.body.dataset.live || 0),
                  liveAt: firstLive && firstLive - t0, doneAt: performance.now() - t0,
                  bytes: +document.body.dataset.bytes, href: $("download").href,
                  hidden: $("download").hidden};""" % text)
        check("speak: done", r["state"] == "done", json.dumps(r)[:300])
        check("speak: played while streaming", r["live"] >= 1 and r["liveAt"] is not None
              and r["liveAt"] <= r["doneAt"], "(%s pieces, first at %s ms of %.0f ms)"
              % (r["live"], r["liveAt"] and round(r["liveAt"]), r["doneAt"]))
        check("speak: download link", r["href"].startswith("blob:") and not r["hidden"])
        got = base64.b64decode(p.eval("return await playerBytes();"))
        check("speak: the WAV is the CLI's audio", samples(got) == want,
              "(%d vs %d bytes)" % (len(got) - 44, len(want)))
        r = p.eval("""
          const a = $("player");
          const played = new Promise((res) => {
            a.addEventListener("playing", () => res("playing"), {once: true});
            a.addEventListener("error", () => res("error " + (a.error && a.error.message)),
                               {once: true});
            setTimeout(() => res("timeout"), 20000);
          });
          a.play().catch((e) => {});
          const ev = await played;
          const t = a.currentTime;
          await sleep(300);
          return {ev, duration: a.duration, advanced: a.currentTime > t || a.ended};""")
        check("audio element plays the WAV", r["ev"] == "playing" and r["advanced"], json.dumps(r))
        check("audio element: duration", abs(r["duration"] - len(want) / 48000) < 0.05,
              "(%.3f s, want %.3f s)" % (r["duration"], len(want) / 48000))

        # Cloning: refused without consent, then done with it.
        r = p.eval("""
          const bytes = Uint8Array.from(atob("%s"), (c) => c.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], "voice.wav", {type: "audio/wav"}));
          $("upload").files = dt.files;
          $("upload").dispatchEvent(new Event("change"));
          $("consent").checked = false;
          const state = await speakAndWait();
          return {state, error: $("error").textContent, consentShown: !$("consent-row").hidden};"""
                   % voice_b64)
        check("upload without consent is refused", r["state"] == "error"
              and "consent" in r["error"] and r["consentShown"], json.dumps(r))
        r = p.eval("""
          $("consent").checked = true;
          const state = await speakAndWait();
          return {state, error: $("error").textContent};""")
        check("upload with consent: done", r["state"] == "done", json.dumps(r))
        got = base64.b64decode(p.eval("return await playerBytes();"))
        check("upload: the WAV is the CLI's cloned audio", samples(got) == want_clone,
              "(%d vs %d bytes)" % (len(got) - 44, len(want_clone)))

        # Stop during a long generation.
        r = p.eval("""
          document.querySelector("input[name=source][value=named]").checked = true;
          $("text").value = %s;
          document.body.dataset.state = "idle";
          $("speak").click();
          for (let i = 0; i < 200 && document.body.dataset.state !== "streaming"; i++) await sleep(20);
          const was = document.body.dataset.state;
          $("stop").click();
          for (let i = 0; i < 100 && document.body.dataset.state !== "idle"; i++) await sleep(20);
          return {was, state: document.body.dataset.state, status: $("status").textContent,
                  speak: !$("speak").disabled};""" % long_text)
        check("stop while streaming", r["was"] == "streaming" and r["state"] == "idle"
              and r["status"] == "Stopped." and r["speak"], json.dumps(r))

        # A server error is shown.
        r = p.eval("""
          document.querySelector("input[name=source][value=named]").checked = true;
          $("text").value = "a".repeat(3000);
          const state = await speakAndWait();
          return {state, error: $("error").textContent};""")
        check("a server error is shown", r["state"] == "error" and "characters" in r["error"],
              json.dumps(r))
    except Exception as e:  # noqa: BLE001 - a broken browser session is a failure
        check("browser session", False, repr(e))
    finally:
        b.close()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

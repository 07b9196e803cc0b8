"""WAV and voice-file checks for tests/cli/test_generate.sh (Python standard library only).

  wavtool.py golden WAV GEN.safetensors HEADER [--max-step N] [--max-rel-rms X]
      WAV is mono 16-bit 24 kHz, its samples are the `pcm16` tensor of GEN within N steps
      (default 1) and within a relative RMS error X, followed by exactly 4800 zeros (0.2 s);
      HEADER is `exact` (RIFF and data sizes match the file) or `stream` (both 0xFFFFFFFF).
  wavtool.py same A.wav B.wav          the two files hold the same samples
  wavtool.py voice-rms A B [--max X]   relative RMS difference of two voice files' caches
                                       (over the positions both hold), B the reference
  wavtool.py stereo IN.wav OUT.wav     IN (mono 16-bit) as stereo L = x + k, R = x - k
  wavtool.py encode IN.wav OUT FORMAT  IN re-encoded by libsndfile as flac or mp3
Each prints one line of measurements; the exit status is 0 when the check holds.
"""
import ctypes
import ctypes.util
import json
import math
import struct
import sys
import wave

TRAILING_ZEROS = 4800  # 0.2 s at 24 kHz


def read_wav(path):
    """(header fields, samples) of a mono 16-bit PCM WAV written by pocket-tts."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 44 or data[0:4] != b"RIFF" or data[8:16] != b"WAVEfmt ":
        raise ValueError("not a RIFF/WAVE file")
    riff_size, fmt_size, fmt, channels, rate, byte_rate, align, bits = struct.unpack(
        "<I4x4xIHHIIHH", data[4:36])
    if data[36:40] != b"data":
        raise ValueError("no data chunk at byte 36")
    data_size = struct.unpack("<I", data[40:44])[0]
    body = data[44:]
    if len(body) % 2:
        raise ValueError("odd data length")
    hdr = dict(riff=riff_size, fmt_size=fmt_size, fmt=fmt, channels=channels, rate=rate,
               byte_rate=byte_rate, align=align, bits=bits, data=data_size, file=len(data))
    return hdr, struct.unpack("<%dh" % (len(body) // 2), body)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    codes = {"I16": "h", "F32": "f", "I64": "q", "F16": "e"}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = blob[base + a:base + b]
        if t["dtype"] == "BF16":
            vals = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
        else:
            c = codes[t["dtype"]]
            vals = struct.unpack("<%d%s" % (len(raw) // struct.calcsize(c), c), raw)
        out[name] = (t["shape"], vals)
    return out


def check_header(hdr, kind):
    problems = []
    want = dict(fmt_size=16, fmt=1, channels=1, rate=24000, byte_rate=48000, align=2, bits=16)
    for k, v in want.items():
        if hdr[k] != v:
            problems.append("%s %d (want %d)" % (k, hdr[k], v))
    if kind == "exact":
        if hdr["riff"] != hdr["file"] - 8 or hdr["data"] != hdr["file"] - 44:
            problems.append("sizes riff %d data %d in a %d-byte file" %
                            (hdr["riff"], hdr["data"], hdr["file"]))
    elif hdr["riff"] != 0xFFFFFFFF or hdr["data"] != 0xFFFFFFFF:
        problems.append("not a streaming header: riff %d data %d" % (hdr["riff"], hdr["data"]))
    return problems


def cmd_golden(args):
    wav, gen, kind = args[0], args[1], args[2]
    max_step, max_rel = 1, None
    for flag, value in zip(args[3::2], args[4::2]):
        if flag == "--max-step":
            max_step = int(value)
        elif flag == "--max-rel-rms":
            max_rel = float(value)
        else:
            raise ValueError("unknown option %s" % flag)
    hdr, got = read_wav(wav)
    want = read_safetensors(gen)["pcm16"][1]
    problems = check_header(hdr, kind)
    n = len(want)
    if len(got) != n + TRAILING_ZEROS:
        problems.append("%d samples (want %d + %d)" % (len(got), n, TRAILING_ZEROS))
    tail = got[n:]
    if any(tail):
        problems.append("non-zero sample in the final 0.2 s")
    m = min(n, len(got))
    step = max((abs(got[i] - want[i]) for i in range(m)), default=0)
    err = math.sqrt(sum((got[i] - want[i]) ** 2 for i in range(m)) / max(m, 1))
    ref = math.sqrt(sum(w * w for w in want[:m]) / max(m, 1))
    rel = err / ref if ref else err
    if step > max_step:
        problems.append("max step %d > %d" % (step, max_step))
    if max_rel is not None and rel > max_rel:
        problems.append("relative RMS %.3g > %.3g" % (rel, max_rel))
    print("%s: %d samples, max step %d, relative RMS %.3g%s" %
          (wav, len(got), step, rel, "; " + "; ".join(problems) if problems else ""))
    return 1 if problems else 0


def cmd_same(args):
    (ha, a), (hb, b) = read_wav(args[0]), read_wav(args[1])
    step = max((abs(x - y) for x, y in zip(a, b)), default=0)
    same = len(a) == len(b) and step == 0
    print("%d vs %d samples, max step %d" % (len(a), len(b), step))
    return 0 if same else 1


def voice_caches(path):
    t = read_safetensors(path)
    layers = {}
    for name, (shape, vals) in t.items():
        if name.endswith("/cache"):
            key = name[:-len("/cache")]
            off = t.get(key + "/offset")
            n = int(off[1][0]) if off else shape[2]
            layers[key] = (shape, vals, n)
    return layers


def cmd_voice_rms(args):
    a, b = voice_caches(args[0]), voice_caches(args[1])
    limit = float(args[3]) if len(args) > 3 and args[2] == "--max" else None
    if sorted(a) != sorted(b):
        print("different layers")
        return 1
    num = den = 0.0
    lens = set()
    for key in a:
        (sa, va, na), (sb, vb, nb) = a[key], b[key]
        n = min(na, nb)
        lens.add((na, nb))
        row = sa[3] * sa[4]  # [2, 1, T, H, Dh]
        for kv in range(2):
            for p in range(n * row):
                x, y = va[kv * sa[2] * row + p], vb[kv * sb[2] * row + p]
                num += (x - y) ** 2
                den += y * y
    rel = math.sqrt(num / den) if den else float("inf")
    print("positions %s, relative RMS %.3g" % (sorted(lens), rel))
    return 0 if limit is None or rel <= limit else 1


def cmd_stereo(args):
    with wave.open(args[0]) as w:
        n, rate = w.getnframes(), w.getframerate()
        x = struct.unpack("<%dh" % n, w.readframes(n))
    out = []
    for i, s in enumerate(x):
        k = int(round(3000 * math.sin(2 * math.pi * 440 * i / rate)))
        out += [max(-32768, min(32767, s + k)), max(-32768, min(32767, s - k))]
    with wave.open(args[1], "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % len(out), *out))
    return 0


class SF_INFO(ctypes.Structure):
    _fields_ = [("frames", ctypes.c_int64), ("samplerate", ctypes.c_int),
                ("channels", ctypes.c_int), ("format", ctypes.c_int),
                ("sections", ctypes.c_int), ("seekable", ctypes.c_int)]


def cmd_encode(args):
    formats = {"flac": 0x170000 | 0x0002,  # SF_FORMAT_FLAC | PCM_16
               "mp3": 0x230000 | 0x0082}   # SF_FORMAT_MPEG | MPEG_LAYER_III
    lib = ctypes.CDLL(ctypes.util.find_library("sndfile") or "libsndfile.so.1")
    lib.sf_open.restype = ctypes.c_void_p
    lib.sf_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(SF_INFO)]
    lib.sf_write_short.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_short), ctypes.c_int64]
    lib.sf_write_short.restype = ctypes.c_int64
    lib.sf_close.argtypes = [ctypes.c_void_p]
    lib.sf_strerror.restype = ctypes.c_char_p
    lib.sf_strerror.argtypes = [ctypes.c_void_p]
    with wave.open(args[0]) as w:
        n, rate, ch = w.getnframes(), w.getframerate(), w.getnchannels()
        pcm = w.readframes(n)
    info = SF_INFO(0, rate, ch, formats[args[2]], 0, 0)
    f = lib.sf_open(args[1].encode(), 0x20, ctypes.byref(info))  # SFM_WRITE
    if not f:
        print("libsndfile: %s" % lib.sf_strerror(None).decode())
        return 1
    buf = (ctypes.c_short * (n * ch)).from_buffer_copy(pcm)
    wrote = lib.sf_write_short(f, buf, n * ch)
    lib.sf_close(f)
    print("%s: %d of %d samples" % (args[1], wrote, n * ch))
    return 0 if wrote == n * ch else 1


if __name__ == "__main__":
    cmds = {"golden": cmd_golden, "same": cmd_same, "voice-rms": cmd_voice_rms,
            "stereo": cmd_stereo, "encode": cmd_encode}
    try:
        sys.exit(cmds[sys.argv[1]](sys.argv[2:]))
    except (OSError, ValueError, KeyError, IndexError, struct.error) as e:
        print("wavtool: %s" % e)
        sys.exit(1)

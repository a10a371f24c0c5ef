"""The C reader (`segstream snapshot verify`) and the Python loader agree on every input of a
fuzz_snapshot corpus: both read it, or both refuse it (the Python loader with SnapshotError,
never another exception). Each input is unpacked as tests/fuzz/fuzz_snapshot.c does it.
    check_snapshot_readers.py SEGSTREAM_BINARY REPO_DIR CORPUS_DIR..."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

seg, repo, corpora = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, f"{repo}/tools/python")
from segstream_snapshot import SnapshotError, load  # noqa: E402


def unpack(data):
    """flags, 2-byte lengths of manifest and rows, manifest, rows, report (as the target)."""
    at = min(5, len(data))
    n_man = min(data[1] | data[2] << 8 if len(data) >= 3 else 0, len(data) - at)
    man = data[at:at + n_man]
    at += n_man
    n_rows = min(data[3] | data[4] << 8 if len(data) >= 5 else 0, len(data) - at)
    rows, report = data[at:at + n_rows], data[at + n_rows:]
    if data[0] & 1:  # the target's fix: the listed sizes and CRC-32s made right
        try:
            m = json.loads(man)
            for e in m.get("files", []):
                if isinstance(e, dict) and e.get("name") in ("customers.msgpack", "report.json"):
                    b = rows if e["name"] == "customers.msgpack" else report
                    e["bytes"], e["crc32"] = len(b), zlib.crc32(b)
            man = json.dumps(m, separators=(",", ":")).encode()
        except (ValueError, AttributeError, TypeError):
            pass
    return man, rows, report


tmp = tempfile.mkdtemp()
n = accepted = bad = 0
try:
    for path in sorted(p for c in corpora for p in glob.glob(f"{c}/*")):
        data = open(path, "rb").read()
        if not data:
            continue
        shutil.rmtree(f"{tmp}/s", ignore_errors=True)
        d = f"{tmp}/s/0000000001"
        os.makedirs(d)
        for name, content in zip(("manifest.json", "customers.msgpack", "report.json"), unpack(data)):
            with open(f"{d}/{name}", "wb") as f:
                f.write(content)
        c_ok = subprocess.run([seg, "snapshot", "verify", f"{tmp}/s", "1"], capture_output=True).returncode == 0
        try:
            load(f"{tmp}/s", 1)
            py = "read"
        except SnapshotError:
            py = "refused"
        except Exception as e:  # noqa: BLE001 - any other exception is a finding
            py = f"crashed: {e!r}"
        n += 1
        accepted += c_ok
        if py != ("read" if c_ok else "refused"):
            bad += 1
            print(f"DISAGREE {os.path.basename(path)}: C {'read' if c_ok else 'refused'}, Python {py}"[:400])
finally:
    shutil.rmtree(tmp, ignore_errors=True)
print(f"check_snapshot_readers: {n} inputs, {accepted} read by both, {bad} disagreements")
sys.exit(1 if bad or n == 0 else 0)

"""Drive headless Debian Chromium against voice_server.py.
Run with:  /work/main/.venv/bin/python browser_driver.py [url]"""
import json
import os
import subprocess
import sys
import time

from playwright.sync_api import sync_playwright

url = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765/"


def chromium_cpu():
    """CPU seconds (utime+stime from /proc/<pid>/stat) and RSS of every chromium process."""
    hz = os.sysconf("SC_CLK_TCK")
    rows = []
    # only chromium processes that descend from THIS driver (other test suites may run chromium too)
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    def descends(pid):
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == os.getpid():
                return True
        return False
    pids = [str(p) for p in parent if descends(p)
            and open(f"/proc/{p}/comm").read().strip().startswith("chrom")]
    for pid in pids:
        try:
            stat = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            cmd = open(f"/proc/{pid}/cmdline").read()
        except OSError:
            continue
        kind = "browser"
        if "--type=" in cmd:
            kind = cmd.replace("\0", " ").split("--type=")[1].split()[0]
        cpu = (int(stat[11]) + int(stat[12])) / hz
        rss = int(stat[21]) * os.sysconf("SC_PAGE_SIZE") // 2**20
        rows.append((int(pid), kind, round(cpu, 2), rss))
    return rows


with sync_playwright() as p:
    t0 = time.time()
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        headless=True,
        args=[
            "--no-sandbox",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            "--disable-features=LocalNetworkAccessChecks",
            "--autoplay-policy=no-user-gesture-required",
        ] + os.environ.get("EXTRA_CHROME_ARGS", "").split(),
    )
    page = browser.new_page()
    page.on("console", lambda m: print("console:", m.text, flush=True))
    t1 = time.time()
    cpu_before = sum(r[2] for r in chromium_cpu())
    page.goto(url)
    page.wait_for_function("window.result && window.result.done", timeout=60000, polling=200)
    t2 = time.time()
    result = page.evaluate("window.result")
    result["driver"] = {"launch_s": round(t1 - t0, 2), "page_session_s": round(t2 - t1, 2),
                        "chromium_procs_after(pid,type,cpu_s,rss_mb)": chromium_cpu()}
    cpu_after = sum(r[2] for r in result["driver"]["chromium_procs_after(pid,type,cpu_s,rss_mb)"])
    result["driver"]["chromium_cpu_pct_during_session"] = round(100 * (cpu_after - cpu_before) / (t2 - t1), 1)
    browser.close()

with open("/tmp/voiceproof/browser_result.json", "w") as f:
    json.dump(result, f, indent=2)
print(json.dumps({k: v for k, v in result.items() if k != "measures"}, indent=2))
for m in result["measures"]:
    print(m)

"""Headless Debian Chromium driven by Selenium, with the network switched off (test helper).

`make install` puts /usr/bin/chromium and /usr/bin/chromedriver there (apt packages chromium and
chromium-driver). Nothing is downloaded: Selenium gets both paths, so Selenium Manager never runs.
The network is off three ways: Chromium's background services are disabled, every request goes
to a dead proxy, and DevTools emulates an offline connection. A page that tries to fetch anything
therefore logs a console error, which the tests assert never happens.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BLUEKIT_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("BLUEKIT_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000",
         "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=<-loopback>")


def require_chromium() -> None:
    """Skip (with the reason) when the browser is not installed; `make install` installs it."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).exists() and os.access(p, os.X_OK))]
    if missing:
        pytest.skip(f"headless browser test needs {' and '.join(missing)}: `make install` installs the "
                    "Debian packages chromium and chromium-driver when it runs as root (apt-get)")


@contextmanager
def offline_chromium():
    """A Selenium driver for headless Chromium with no network and a fresh profile."""
    require_chromium()
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look anything up
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="bluekit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.set_page_load_timeout(120)
        driver.set_script_timeout(60)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver) -> list[str]:
    """Console messages at level SEVERE (JavaScript errors, failed resource loads)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]


def wait_for(driver, script: str, timeout: float = 60):
    """Poll a JavaScript expression until it returns something truthy; returns that value."""
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(
        lambda d: d.execute_script(f"return ({script});"))

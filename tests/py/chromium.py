"""What the headless-Chromium scripts share: Debian's chromium and chromium-driver, driven by
Selenium WebDriver, at a laptop's window size; and failing with a reason."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service


def fail(msg):
    """Prints the reason on stderr and exits 1."""
    print(msg, file=sys.stderr)
    sys.exit(1)


def headless():
    """A headless Chromium (1366x900) under chromedriver; the caller quits it."""
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1366,900"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)

"""Opens sdgx's dashboard over TLS in headless Chromium (Debian's chromium and chromium-driver,
driven by Selenium WebDriver). The test CA is trusted the way a workstation trusts it: through
the NSS database of $HOME/.pki/nssdb (certutil), which the caller prepares; no certificate
error is ignored.

Usage: https_browser.py <https base URL> <reader token> trusted|untrusted
  trusted:   logs in, checks the page is a secure context and the session cookie (Secure,
             HttpOnly, SameSite=Strict, Path=/dashboard, not the token), logs out, puts the old
             cookie back and checks the dashboard sends it to the login page.
  untrusted: checks Chromium refuses the page (no CA in the NSS database).
Prints one JSON line with what it saw; exits 1 with the reason on any mismatch."""
import json
import sys

from chromium import fail, headless
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

base, token, mode = sys.argv[1:4]


driver = headless()
seen = {}
try:
    driver.get(base + "/dashboard")
    if mode == "untrusted":
        if driver.find_elements(By.ID, "token"):
            fail("Chromium showed the login page without the CA in its NSS database")
        seen["refused"] = driver.title
        print(json.dumps(seen))
        sys.exit(0)
    if not driver.current_url == base + "/dashboard/login":
        fail(f"dashboard without a session went to {driver.current_url}, not the login page")
    secure = driver.execute_script("return [location.protocol, window.isSecureContext]")
    if secure != ["https:", True]:
        fail(f"the login page is not a secure context: {secure}")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.ID, "headline-value")))
    if driver.current_url != base + "/dashboard":
        fail(f"login went to {driver.current_url}")
    cookies = [c for c in driver.get_cookies() if c["name"] == "sdgx_session"]
    if len(cookies) != 1:
        fail(f"not one session cookie: {driver.get_cookies()}")
    c = cookies[0]
    wanted = {"secure": True, "httpOnly": True, "sameSite": "Strict", "path": "/dashboard"}
    got = {k: c.get(k) for k in wanted}
    if got != wanted:
        fail(f"session cookie attributes {got}, expected {wanted}")
    if token in c["value"] or token[5:] in c["value"] or len(c["value"]) < 32:
        fail("the session cookie carries the token, or too short an id")
    if driver.execute_script("return document.cookie").find("sdgx_session") >= 0:
        fail("the session cookie is readable from JavaScript")
    seen["cookie"] = got
    # Log out: the button in the navigation.
    driver.find_element(By.XPATH, "//nav//button[text()='Log out']").click()
    WebDriverWait(driver, 30).until(EC.url_to_be(base + "/dashboard/login"))
    if any(k["name"] == "sdgx_session" for k in driver.get_cookies()):
        fail("the cookie is still in the browser after logout")
    # The old cookie, put back, opens nothing: the session ended on the server.
    driver.add_cookie({"name": "sdgx_session", "value": c["value"], "path": "/dashboard", "secure": True, "httpOnly": True, "sameSite": "Strict"})
    driver.get(base + "/dashboard")
    if driver.current_url != base + "/dashboard/login" or driver.find_elements(By.ID, "headline-value"):
        fail(f"the logged-out session still opened {driver.current_url}")
    seen["after_logout"] = driver.current_url
    seen["old_session"] = c["value"]
    print(json.dumps(seen))
finally:
    driver.quit()

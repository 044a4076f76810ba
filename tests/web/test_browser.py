"""The workspace in a real browser: Debian's chromium, headless, driven by Selenium through chromedriver.

Each role signs in through the form; a steward accepts a pair; an auditor traces a value; a manager reads
the KPI page and its number is checked against SQL; a manager is refused a person page. Screenshots go to
``HUB_TEST_ARTEFACTS`` (default ``.hub/test-artefacts/browser``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.web_world import Workspace, open_review

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = Path(os.environ.get("HUB_TEST_ARTEFACTS", ROOT / ".hub" / "test-artefacts")) / "browser"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="chromium and chromedriver are not installed (scripts/ensure-chromium.sh)",
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--lang=ru", "--window-size=1280,1000", f"--user-data-dir={tmp_path}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(DRIVER)), options=options)
    driver.implicitly_wait(20)  # a loaded 2-core machine renders a chart page in seconds, not ms
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: WebDriver, name: str) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTEFACTS / f"{name}.png"))


def _sign_in(driver: WebDriver, ws: Workspace, role: str) -> None:
    driver.get(ws.base + "/")
    driver.find_element(By.ID, "username").send_keys(role)
    driver.find_element(By.ID, "password").send_keys(ws.password(role) + Keys.ENTER)
    assert driver.find_element(By.CSS_SELECTOR, ".signout span").text.startswith(role)


def _every_field_has_a_label(driver: WebDriver) -> None:
    unlabeled = driver.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]"
        ".filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)")
    assert unlabeled == [], f"form fields without a label: {unlabeled}"


def test_each_role_signs_in_to_its_home(browser: WebDriver, workspace: Workspace) -> None:
    homes = {"steward": "Очередь проверки", "auditor": "Происхождение данных",
             "manager": "Показатели программы", "operator": "Ночные загрузки"}
    for role, heading in homes.items():
        browser.delete_all_cookies()
        _sign_in(browser, workspace, role)
        assert browser.find_element(By.TAG_NAME, "h1").text.startswith(heading), role
        _every_field_has_a_label(browser)
        _shot(browser, f"home-{role}")


def test_the_skip_link_is_the_first_stop_of_the_keyboard(browser: WebDriver, workspace: Workspace) -> None:
    _sign_in(browser, workspace, "operator")
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("class") == "skip"
    assert focused.is_displayed()


def test_a_steward_accepts_a_pair(browser: WebDriver, workspace: Workspace) -> None:
    review = open_review(workspace)
    _sign_in(browser, workspace, "steward")
    browser.find_element(By.CSS_SELECTOR, f'a[href$="/steward/review/{review}"]').click()
    chart = browser.find_element(By.CSS_SELECTOR, "figure img.chart")
    assert chart.is_displayed()
    assert chart.get_attribute("alt").startswith("Из чего сложился вес")
    assert browser.execute_script("return arguments[0].naturalWidth", chart) > 100  # the image decoded
    _shot(browser, "steward-pair")
    browser.find_element(By.ID, "reason").send_keys("проверено по документам")
    browser.find_element(By.ID, "accept").click()
    # the click starts a navigation: the old page's #status may be found, then go stale — wait for the new one
    WebDriverWait(browser, 30, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.ID, "status").text == "accepted")
    _shot(browser, "steward-accepted")
    assert workspace.sql("SELECT status, decided_by FROM review_item WHERE review_id = %s", review) == [
        ("accepted", "web:steward")]


def test_an_auditor_traces_a_value(browser: WebDriver, workspace: Workspace) -> None:
    person = workspace.sql("SELECT registry_id FROM registry_person WHERE status = 'active' "
                           "AND golden ? 'snils' ORDER BY 1 LIMIT 1")[0][0]
    _sign_in(browser, workspace, "auditor")
    browser.find_element(By.ID, "q").send_keys(person)
    browser.find_element(By.ID, "purpose").send_keys("проверка обращения" + Keys.ENTER)
    path = browser.find_element(By.CSS_SELECTOR, 'ol.path[aria-label="Путь значения snils"]')
    steps = [li.text for li in path.find_elements(By.TAG_NAME, "li")]
    assert [s.split(":")[0] for s in steps] == ["Значение", "Правило выбора", "Запись источника",
                                                "Исходные байты", "Запуск загрузки", "Версия сопоставления"]
    sha = workspace.sql(
        """SELECT p.sha256 FROM attribute_lineage l JOIN staged_record s ON s.staged_id = l.staged_id
           JOIN raw_payload p ON p.payload_id = s.payload_id
           WHERE l.entity_kind = 'person' AND l.entity_id = %s AND l.attribute = 'snils'
             AND l.valid_to IS NULL""", person)[0][0]
    assert sha in steps[3]
    _shot(browser, "auditor-lineage")


def test_a_manager_reads_the_kpi_and_cannot_open_a_person(browser: WebDriver, workspace: Workspace) -> None:
    _sign_in(browser, workspace, "manager")
    browser.get(workspace.base + "/manager?date_from=2020-01-01&date_to=2026-12-31")
    shown = browser.find_element(By.CSS_SELECTOR, "#kpi-positive strong").text
    closed, positive = workspace.sql(
        """SELECT count(*), count(*) FILTER (WHERE closure_reason = 'positive_dynamics')
           FROM accompaniment_case c JOIN registry_family f ON f.registry_id = c.family_id
           WHERE f.status = 'active' AND c.closed_on BETWEEN '2020-01-01' AND '2026-12-31'""")[0]
    assert shown == f"{round(100 * positive / closed, 1)} %"
    _shot(browser, "manager-kpi")
    person = workspace.sql("SELECT registry_id FROM registry_person WHERE status = 'active' LIMIT 1")[0][0]
    browser.get(f"{workspace.base}/auditor/entity/{person}?purpose=x")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Нет доступа"
    _shot(browser, "manager-refused")

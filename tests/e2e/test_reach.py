"""Reach, in a real browser on a cheap phone: every parent and teacher page passes axe-core's WCAG 2.1 AA rules with
no serious or critical violation, parent pages have no tap target under 44×44 px, the top bar holds at 320 px, and
the whole parent journey fits slow 3G (400 ms, 400 kbit/s both ways) with big phone photos.

axe-core is vendored (tests/e2e/vendor/axe.min.js, 4.14.1, MPL-2.0) and injected from the file: no network. Its
inline script needs the page's CSP bypassed, so the axe contexts do that; the journey keeps the real CSP.
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from confirm.models import StoredFile
from confirm.services import records, review
from confirm.services.common import SYSTEM, Actor
from confirm.services.files import record_file
from confirm.services.registration import issue_code
from tests.conftest import test_app_config
from tests.e2e.browser import ANDROID_WECHAT_UA, sign_in
from tests.e2e.conftest import ACTION_TIMEOUT_MS
from tests.e2e.test_browser_journey import (
    assert_fits_the_screen,
    full_page_screenshot,
    newest_sms,
    watch_page,
)
from tests.factories import make_campaign, make_class, make_parent, make_school, make_staff, make_student
from tests.images import sheet_image
from tests.servers import serve
from webapp import create_app

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
REACH_CONTEXT = dict(
    viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True,
    user_agent=ANDROID_WECHAT_UA, locale="zh-CN", timezone_id="Asia/Shanghai",
)
SLOW_3G = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
UPLOAD_BUDGET = 1_200_000  # bytes, every request body of the journey
NETWORK_BUDGET = 45.0  # seconds with a request in flight
TAP = 44  # px, the smallest tap target
SLOW = 90_000  # ms: a step of the slow-3G journey (a photo is 10–20 s on the wire, more on a busy machine)


# --- what is measured -----------------------------------------------------------------------------------------------


def axe_violations(page) -> list[str]:
    """The serious and critical WCAG 2.1 A/AA violations axe-core finds on ``page``, one line each."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']});
        return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical').map(v =>
            v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 4).map(n =>
                n.target.join(' ') + ' — ' + (n.failureSummary || '').split('\\n').slice(1).join(' ')).join(' | '));
    }""")
    return [f"{page.url}: {line}" for line in found]


SMALL_TARGETS = """(tap) => {
    // Interactive elements as a finger meets them: a check box or radio button through its label. Links inside a
    // sentence are exempt (WCAG 2.5.8's inline exception); elements not shown (closed <details>, hidden) too.
    const small = [], seen = new Set();
    const interactive = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
    for (const el of document.querySelectorAll(interactive)) {
        const target = el.matches('input[type=checkbox], input[type=radio]') ? (el.closest('label') || el) : el;
        if (seen.has(target)) continue;
        seen.add(target);
        const box = target.getBoundingClientRect();
        if (!box.width || !box.height || getComputedStyle(target).visibility === 'hidden') continue;
        const holder = target.parentElement;
        const inSentence = target.tagName === 'A' && holder
            && ['P', 'LI', 'SPAN', 'TD', 'SMALL'].includes(holder.tagName)
            && holder.textContent.trim().length > target.textContent.trim().length + 4;
        if (inSentence) continue;
        if (box.width < tap || box.height < tap) {
            const name = target.tagName.toLowerCase() + (target.className ? '.' + target.className : '');
            small.push(`${name} "${target.textContent.trim().slice(0, 20)}" ` +
                       `${Math.round(box.width)}×${Math.round(box.height)}`);
        }
    }
    return small;
}"""


def small_targets(page) -> list[str]:
    """Tap targets of ``page`` smaller than 44×44 CSS px."""
    return [f"{page.url}: {line}" for line in page.evaluate(SMALL_TARGETS, TAP)]


def broken_top_bar(page) -> list[str]:
    """Items of the top bar whose text wraps onto a second line, or a top bar wider than the screen."""
    return page.evaluate("""() => {
        const bar = document.querySelector('.topbar');
        const problems = [];
        if (bar.scrollWidth > bar.clientWidth + 1) problems.push(`top bar ${bar.scrollWidth}px > ${bar.clientWidth}px`);
        for (const item of bar.querySelectorAll('a, button')) {
            const range = document.createRange();
            range.selectNodeContents(item);
            const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
            if (lines.size > 1) problems.push(`"${item.textContent.trim()}" wraps onto ${lines.size} lines`);
        }
        return problems;
    }""")


# --- the school --------------------------------------------------------------------------------------------------


def hand_in(s, store, campaign, student, parent, entries=None):
    """A submitted confirmation, arranged through the services."""
    by_parent = Actor("parent", parent.id)
    key = f"sheet/{student.school_id}/2026/09/{student.id:032x}.jpg"
    data = sheet_jpeg_bytes((1200, 900))
    store.put(key, data, "image/jpeg")
    sheet = record_file(s, student, kind="sheet", storage_key=key, sha256=f"{student.id:064x}",
                        content_type="image/jpeg", size_bytes=len(data), width=1200, height=900, actor=by_parent)
    confirmation = records.ensure_confirmation(s, campaign, student)
    if entries:
        records.save_corrections(s, confirmation, entries, actor=by_parent)
    review.submit_confirmation(s, confirmation, sheet, actor=by_parent)
    return confirmation


def sheet_jpeg_bytes(size) -> bytes:
    out = io.BytesIO()
    sheet_image(size).save(out, "JPEG", quality=80)
    return out.getvalue()


@pytest.fixture
def school(db_url, tmp_path):
    """A class with a student to register, a parent of two (one returned, one with key data waiting for a proof),
    a submitted sheet for the teacher to review; served with CSRF on."""
    app = create_app(test_app_config(db_url, tmp_path, WTF_CSRF_ENABLED=True))
    with Session(app.extensions["db_engine"], expire_on_commit=False) as s:
        school = make_school(s)
        campaign = make_campaign(s, school)
        teacher = make_staff(s, school, username="teacher_reach", phone="13700007777")
        school_class = make_class(s, school, teacher, name="3班")
        newcomer, returned, waiting, submitted = (make_student(s, school_class) for _ in range(4))
        parent = make_parent(s, returned, waiting, phone="13912340001")
        other = make_parent(s, submitted, phone="13912340002")
        store = app.extensions["store"]
        confirmation = hand_in(s, store, campaign, returned, parent, {(0, "current_address"): "贵阳市新地址8号"})
        review.return_confirmation(s, confirmation, "照片不清楚，请重新拍照", actor=Actor("staff", teacher.id))
        records.save_corrections(s, records.ensure_confirmation(s, campaign, waiting), {(0, "ethnicity"): "06"},
                                 actor=Actor("parent", parent.id))
        hand_in(s, store, campaign, submitted, other, {(0, "current_address"): "贵阳市另一个地址9号"})
        code = issue_code(s, newcomer, key=app.extensions["code_key"], actor=SYSTEM)
        s.commit()
        ids = dict(class_id=school_class.id, newcomer=newcomer.id, newcomer_name=newcomer.name, returned=returned.id,
                   waiting=waiting.id, submitted=submitted.id, parent_phone=parent.phone, code=code,
                   teacher=teacher.username)
    with serve(app) as url:
        yield app, url, ids
    app.extensions["db_engine"].dispose()



# --- the tests ---------------------------------------------------------------------------------------------------


def test_every_parent_page_passes_axe_and_has_no_tap_target_under_44_px(browser, school):
    from playwright.sync_api import expect

    app, base, ids = school
    violations, small = [], []
    context = browser.new_context(**REACH_CONTEXT, bypass_csp=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()

        def check():
            page.wait_for_load_state()
            violations.extend(axe_violations(page))
            small.extend(small_targets(page))

        for path in ("/login", "/login/forgot", "/register"):
            page.goto(base + path)
            check()
        page.locator("input[name=code]").fill(ids["code"])
        page.locator("input[name=student_name]").fill(ids["newcomer_name"])
        page.locator("input[name=phone]").fill("13912345678")
        page.locator("input[name=consent]").check()  # the guardian agrees to the privacy notice
        page.get_by_role("button", name="获取短信验证码").click()
        expect(page).to_have_url(re.compile(r"/register/verify$"))
        check()
        page.get_by_role("button", name="完成注册").click()  # refused: the page with its errors
        check()

        page = context.new_page()
        context.clear_cookies()
        sign_in(page, base, ids["parent_phone"])
        for path in ("/parent/", f"/parent/students/{ids['returned']}", f"/parent/students/{ids['returned']}/submit",
                     f"/parent/students/{ids['waiting']}", f"/parent/students/{ids['waiting']}/submit",
                     "/account/password", "/account/sessions"):
            page.goto(base + path)
            check()
        page.goto(f"{base}/parent/students/{ids['returned']}")
        edit = page.locator("a.edit").first
        editor_page = edit.get_attribute("href")
        edit.click()  # a correction editor, opened in place
        expect(page.locator(".editor").first).to_be_visible()
        check()
        page.goto(base + editor_page)  # the same editor as a page of its own (without JavaScript)
        check()
        page.goto(f"{base}/parent/students/{ids['returned']}/submit")
        page.get_by_role("button", name="提交").click()  # nothing chosen: the server's refusal page
        expect(page.locator("#problems")).to_be_visible()
        check()
        page.goto(f"{base}/parent/students/{ids['returned']}")
        page.get_by_role("link", name="English").click()  # the English pages too
        check()
    finally:
        context.close()
    assert not violations, "\n".join(violations)
    assert not small, "\n".join(small)


def test_every_teacher_page_passes_axe_and_has_no_tap_target_under_44_px_on_a_phone(browser, school, screenshot_dir):
    app, base, ids = school
    violations, small = [], []
    context = browser.new_context(**REACH_CONTEXT, bypass_csp=True)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, base, ids["teacher"])
        klass = f"/teacher/classes/{ids['class_id']}"
        for path in ("/teacher/", klass, f"{klass}?stage=returned", f"{klass}/queue",
                     f"/teacher/students/{ids['submitted']}", f"/teacher/students/{ids['returned']}",
                     f"/teacher/students/{ids['submitted']}/messages", f"{klass}/outreach", f"{klass}/upload",
                     f"{klass}/batches", f"{klass}/sheets", f"{klass}/flags", f"{klass}/parents",
                     f"{klass}/reset-password", f"/teacher/students/{ids['newcomer']}/reset-code", "/teacher/verify",
                     "/account/sessions"):
            page.goto(base + path)
            page.wait_for_load_state()
            violations.extend(axe_violations(page))
            small.extend(small_targets(page))
            assert_fits_the_screen(page)  # a review's table of corrections too: no sideways scrolling
            if path == klass:
                full_page_screenshot(page, screenshot_dir / "teacher-class-phone.png")
            if path == f"/teacher/students/{ids['submitted']}":
                full_page_screenshot(page, screenshot_dir / "teacher-review-phone.png")
    finally:
        context.close()
    assert not violations, "\n".join(violations)
    assert not small, "\n".join(small)


@pytest.mark.parametrize("language", ["中文", "English"])
def test_the_top_bar_holds_at_320_px(browser, school, screenshot_dir, language):
    app, base, ids = school
    context = browser.new_context(**{**REACH_CONTEXT, "viewport": {"width": 320, "height": 640}})
    try:
        page = context.new_page()
        sign_in(page, base, ids["parent_phone"])
        if language == "English":
            page.get_by_role("link", name="English").click()
            page.wait_for_load_state()
        for path in (f"/parent/students/{ids['returned']}", "/login"):
            if path == "/login":
                page.get_by_role("button", name=re.compile("退出|Sign out|Log out")).click()
                page.wait_for_load_state()
            else:
                page.goto(base + path)
            assert broken_top_bar(page) == [], page.url
            widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert widths[0] <= widths[1], f"{page.url} is {widths[0]}px wide on a 320px screen"
            shot = screenshot_dir / f"topbar-320-{'en' if language == 'English' else 'zh'}-{path.count('/')}.png"
            page.locator(".topbar").screenshot(path=str(shot))
    finally:
        context.close()


# --- the journey on slow 3G --------------------------------------------------------------------------------------


def noisy_photo(upright: Image.Image, sigma: float, seed: int) -> Image.Image:
    """``upright`` with camera-like sensor noise on every pixel: the detail that makes a phone's JPEG big."""
    pixels = np.asarray(upright).astype(np.int16)
    noise = np.random.default_rng(seed).normal(0, sigma, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def big_sheet_photo(path: Path) -> Path:
    """A 12 MP photo of the signed sheet, about 3.4 MB."""
    image = sheet_image((4000, 3000), seed=7)
    ImageDraw.Draw(image).line((2250, 2650, 3080, 2580), fill=(20, 40, 120), width=18)  # the signature
    noisy_photo(image, 8, seed=7).save(path, "JPEG", quality=90)
    return path


def tagged_proof_photo(path: Path) -> Path:
    """A photo of the 户口簿 page, about 2.5 MB, taken with the phone turned: its pixels lie on their side and its
    EXIF orientation (6: turn 90° clockwise) says so. Upright it is landscape with a red block at the top left."""
    upright = sheet_image((3264, 2448), background=(180, 170, 150), seed=11)
    ImageDraw.Draw(upright).rectangle((0, 0, 650, 490), fill=(220, 20, 20))
    raw = noisy_photo(upright, 10, seed=11).transpose(Image.Transpose.ROTATE_90)  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6
    raw.save(path, "JPEG", quality=90, exif=exif.tobytes())
    return path


def is_upright(data: bytes) -> bool:
    """The stored proof is landscape with its red block at the top left."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size
    red, green, blue = image.getpixel((width // 20, height // 20))
    return width > height and red > 150 and green < 90 and blue < 90


class BodyMeter:
    """Counts the bytes of every request body the app receives (a WSGI middleware in front of the app)."""

    def __init__(self, app):
        self.app, self.wrapped, self.bodies = app, app.wsgi_app, []
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        self.bodies.append(int(environ.get("CONTENT_LENGTH") or 0))
        return self.wrapped(environ, start_response)


class NetworkClock:
    """Seconds during which at least one request of the page is in flight, from the DevTools network events."""

    def __init__(self, cdp):
        self.started: dict[str, float] = {}
        self.spans: list[tuple[float, float]] = []
        cdp.on("Network.requestWillBeSent", lambda e: self.started.setdefault(e["requestId"], e["timestamp"]))
        cdp.on("Network.loadingFinished", self._done)
        cdp.on("Network.loadingFailed", self._done)

    def _done(self, event):
        start = self.started.pop(event["requestId"], None)
        if start is not None:
            self.spans.append((start, event["timestamp"]))

    def seconds(self) -> float:
        total, reach = 0.0, None
        for start, end in sorted(self.spans):
            if reach is None or start > reach:
                total += end - start
                reach = end
            elif end > reach:
                total += end - reach
                reach = end
        return total


@pytest.mark.timing
def test_the_whole_parent_journey_fits_slow_3g_with_big_photos(browser, school, tmp_path, screenshot_dir):
    from playwright.sync_api import expect

    app, base, ids = school
    meter = BodyMeter(app)
    sheet, proof = big_sheet_photo(tmp_path / "IMG_0815.jpg"), tagged_proof_photo(tmp_path / "IMG_0816.jpg")
    assert 3_200_000 <= sheet.stat().st_size <= 3_700_000 and 2_300_000 <= proof.stat().st_size <= 2_800_000
    problems: list[str] = []
    context = browser.new_context(**REACH_CONTEXT)
    context.set_default_timeout(60_000)
    context.set_default_navigation_timeout(60_000)
    try:
        page = context.new_page()
        watch_page(page, problems)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        clock = NetworkClock(cdp)
        meter.bodies.clear()

        page.goto(f"{base}/register")
        page.locator("input[name=code]").fill(ids["code"])
        page.locator("input[name=student_name]").fill(ids["newcomer_name"])
        page.locator("input[name=phone]").fill("13912345679")
        page.locator("input[name=consent]").check()
        page.get_by_role("button", name="获取短信验证码").click()
        expect(page).to_have_url(re.compile(r"/register/verify$"), timeout=SLOW)
        code = re.search(r"\b(\d{6})\b", newest_sms(app.extensions["notifier"].outbox)[1]).group(1)
        page.locator("input[name=sms_code]").fill(code)
        page.locator("input[name=password]").fill("secret-pass-1")
        page.locator("input[name=password_confirm]").fill("secret-pass-1")
        page.get_by_role("button", name="完成注册").click()
        expect(page).to_have_url(re.compile(rf"/parent/students/{ids['newcomer']}$"))

        # One ordinary correction (the address) and one of key data (民族), saved together.
        expect(page.locator("form.record-form[data-ready]")).to_have_count(1, timeout=SLOW)  # record.js is in
        address = page.locator("#row-c0-current_address")
        address.locator("a.edit").click()  # the editor, fetched in place
        address.locator("input[name='c0-current_address']").fill("贵阳市云岩区新地址8号")
        ethnicity = page.locator("#row-c0-ethnicity")
        ethnicity.locator("a.edit").click()
        ethnicity.locator("select[name='c0-ethnicity']").select_option("06")
        page.get_by_role("button", name="保存并上传确认表").click()
        expect(page).to_have_url(re.compile(rf"/parent/students/{ids['newcomer']}/submit$"), timeout=SLOW)

        # The sheet form waits for the proof.
        expect(page.locator("input[name=sheet]")).to_have_count(0)
        expect(page.locator("form[data-ready] input[name=proof]")).to_have_count(1, timeout=SLOW)  # photo.js is in
        page.locator("input[name=proof]").set_input_files(str(proof))
        page.get_by_role("button", name="上传证明材料").click(no_wait_after=True)  # the script sends it
        expect(page.locator(".flash-success")).to_contain_text("证明材料已上传", timeout=SLOW)

        expect(page.locator("form[data-ready] input[name=sheet]")).to_have_count(1, timeout=SLOW)
        page.locator("input[name=sheet]").set_input_files(str(sheet))
        page.locator("input[name=confirmed]").check()
        page.get_by_role("button", name="提交").click(no_wait_after=True)
        expect(page).to_have_url(re.compile(rf"/parent/students/{ids['newcomer']}$"), timeout=SLOW)
        expect(page.locator(".flash-success")).to_contain_text("提交成功")
        expect(page.locator(".status-submitted")).to_contain_text("待审核")
        page.screenshot(path=str(screenshot_dir / "journey-slow-3g-status.png"))
        network_seconds, uploaded = clock.seconds(), sum(meter.bodies)
    finally:
        context.close()

    print(f"\nslow 3G journey: {uploaded:,} bytes uploaded (photos {sheet.stat().st_size:,} + "
          f"{proof.stat().st_size:,} on the phone), {network_seconds:.1f} s of network time")
    assert problems == []
    assert uploaded <= UPLOAD_BUDGET, f"{uploaded:,} bytes uploaded"
    assert network_seconds <= NETWORK_BUDGET, f"{network_seconds:.1f} s of network time"
    with Session(app.extensions["db_engine"]) as s:
        stored = s.scalar(select(StoredFile).where(StoredFile.kind == "proof",
                                                   StoredFile.student_id == ids["newcomer"]))
        assert stored is not None
        assert is_upright(app.extensions["store"].get(stored.storage_key))


# An engine that ignores EXIF orientation when it decodes (older Android WebViews): every JPEG an <img> is given,
# from a data: or blob: URL, is decoded with its orientation tag set to 1 ("as stored").
IGNORES_ORIENTATION = """(() => {
    const blobs = new Map(), create = URL.createObjectURL.bind(URL);
    URL.createObjectURL = (blob) => { const url = create(blob); blobs.set(url, blob); return url; };
    function untag(bytes) {
        const view = new DataView(bytes.buffer);
        let at = 2;
        while (at + 4 < bytes.length && view.getUint16(at) !== 0xFFDA) {
            const size = view.getUint16(at + 2);
            if (view.getUint16(at) === 0xFFE1 && view.getUint32(at + 4) === 0x45786966) {
                const tiff = at + 10, little = view.getUint16(tiff) === 0x4949;
                const ifd = tiff + view.getUint32(tiff + 4, little);
                for (let i = 0; i < view.getUint16(ifd, little); i++) {
                    const entry = ifd + 2 + i * 12;
                    if (view.getUint16(entry, little) === 0x0112) view.setUint16(entry + 8, 1, little);
                }
            }
            at += 2 + size;
        }
        return bytes;
    }
    const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, 'src');
    Object.defineProperty(HTMLImageElement.prototype, 'src', {
        get() { return src.get.call(this); },
        set(value) {
            let bytes = null;
            if (value.startsWith('data:image/jpeg;base64,')) {
                bytes = Promise.resolve(Uint8Array.from(atob(value.slice(23)), c => c.charCodeAt(0)));
            } else if (blobs.has(value) && /jpe?g/.test(blobs.get(value).type)) {
                bytes = blobs.get(value).arrayBuffer().then(buffer => new Uint8Array(buffer));
            }
            if (!bytes) { src.set.call(this, value); return; }
            bytes.then(b => src.set.call(this, create(new Blob([untag(b)], {type: 'image/jpeg'}))));
        },
    });
})();"""


def test_on_a_webview_that_ignores_exif_orientation_the_shrunk_proof_is_still_upright(browser, school, tmp_path):
    from playwright.sync_api import expect

    app, base, ids = school
    meter = BodyMeter(app)
    proof = tagged_proof_photo(tmp_path / "IMG_0817.jpg")
    probe = io.BytesIO()
    tags = Image.Exif()
    tags[0x0112] = 6
    Image.new("RGB", (2, 1), "white").save(probe, "JPEG", exif=tags.tobytes())
    context = browser.new_context(**REACH_CONTEXT)
    context.add_init_script(IGNORES_ORIENTATION)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, base, ids["parent_phone"])
        page.goto(f"{base}/parent/students/{ids['waiting']}/submit")
        width = page.evaluate("""url => new Promise(done => {
            const i = new Image(); i.onload = () => done(i.naturalWidth); i.src = url; })""",
            "data:image/jpeg;base64," + base64.b64encode(probe.getvalue()).decode())
        assert width == 2  # the emulation holds: a tagged photo is decoded as stored, on its side
        expect(page.locator("form[data-ready] input[name=proof]")).to_have_count(1)
        page.locator("input[name=proof]").set_input_files(str(proof))
        page.get_by_role("button", name="上传证明材料").click(no_wait_after=True)
        expect(page.locator(".flash-success")).to_contain_text("证明材料已上传")
        expect(page.locator("input[name=sheet]")).to_have_count(1)  # the sheet form is offered once the proof is in
    finally:
        assert max(meter.bodies) < proof.stat().st_size // 3  # shrunk in the browser
        context.close()
    with Session(app.extensions["db_engine"]) as s:
        stored = s.scalar(select(StoredFile).where(StoredFile.kind == "proof",
                                                   StoredFile.student_id == ids["waiting"]))
        assert stored is not None
        assert is_upright(app.extensions["store"].get(stored.storage_key))


def test_a_refused_sheet_keeps_its_photo_and_a_dropped_connection_is_retried_without_filing_twice(
        browser, school, tmp_path):
    from playwright.sync_api import expect

    app, base, ids = school
    photo = tmp_path / "IMG_0818.jpg"
    noisy_photo(sheet_image((2400, 1800), seed=5), 6, seed=5).save(photo, "JPEG", quality=90)

    def sheets() -> int:
        with Session(app.extensions["db_engine"]) as s:
            return len(s.scalars(select(StoredFile.id).where(StoredFile.kind == "sheet",
                                                             StoredFile.student_id == ids["returned"])).all())

    before = sheets()
    context = browser.new_context(**REACH_CONTEXT)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        page = context.new_page()
        sign_in(page, base, ids["parent_phone"])
        page.goto(f"{base}/parent/students/{ids['returned']}/submit")
        expect(page.locator("#returned")).to_contain_text("照片不清楚，请重新拍照")  # why it came back
        expect(page.locator("form[data-ready] input[name=sheet]")).to_have_count(1)
        page.locator("input[name=sheet]").set_input_files(str(photo))
        submit = page.get_by_role("button", name="提交")
        retry = page.get_by_role("button", name="重试")
        expect(retry).to_be_hidden()

        submit.click(no_wait_after=True)  # the tick box forgotten: refused
        error = page.locator("#confirmed").locator("xpath=ancestor::div[contains(@class, 'field')]")\
            .locator(".field-error")
        expect(error).to_contain_text("请确认您已核对信息并签字")
        assert error.evaluate("e => { const r = e.getBoundingClientRect(); "
                              "return r.top >= 0 && r.bottom <= window.innerHeight; }")  # scrolled into view
        assert page.locator("input[name=sheet]").evaluate("input => input.files.length") == 1  # the photo stays
        expect(retry).to_be_hidden()  # a refusal needs a fix, not a retry

        dropped = []

        def drop_the_answer(route):  # the sheet arrives and is filed, the answer is lost on the way back
            route.fetch()
            dropped.append(route.request.url)
            route.abort("connectionreset")

        page.route(re.compile(r"/submit$"), drop_the_answer, times=1)
        page.locator("input[name=confirmed]").check()
        expect(page.locator("#confirmed").locator("xpath=ancestor::div[contains(@class, 'field')]")
               .locator(".field-error")).to_have_count(1)  # still shown until sent again
        submit.click(no_wait_after=True)
        expect(retry).to_be_visible()
        assert dropped and sheets() == before + 1
        expect(page.locator("[data-progress-text]")).to_contain_text("网络中断")

        retry.click(no_wait_after=True)
        expect(page).to_have_url(re.compile(rf"/parent/students/{ids['returned']}$"))
        expect(page.locator(".flash-success")).to_contain_text("提交成功")
    finally:
        context.close()
    assert sheets() == before + 1  # the retry got the first answer, nothing filed twice

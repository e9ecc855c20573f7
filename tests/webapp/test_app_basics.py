"""What every deployment relies on: probes, sessions, CSRF, security headers, configuration, demo data, hashing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from confirm.demo import ADMIN, DISTRICT_CODE, PARENT_PHONE, SCHOOL_CODE, SUPERVISOR, TEACHERS
from confirm.models import District, RegistrationCode, School, SchoolClass, StaffUser, Student
from confirm.security import hash_password, verify_password
from tests.factories import PASSWORD, make_school, make_staff
from tests.webapp.conftest import sms_code
from uploads.storage import LocalStore
from webapp import create_app
from webapp.config import ConfigError


@pytest.fixture
def teacher(db):
    """One head-teacher account (one password hash: cheaper than the whole world)."""
    user = make_staff(db, make_school(db), username="teacher_x", real_hash=True)  # as the app hashes
    db.commit()
    return user


class UnreachableStore:
    """An object store whose service is down."""

    def check(self) -> None:
        raise ConnectionError("storage endpoint refused the connection")


# ---------------------------------------------------------------------------------------------------
# probes


def test_healthz_answers_without_touching_backends(client, app):
    app.extensions["store"] = UnreachableStore()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_ready_when_database_and_storage_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


def test_readyz_is_503_when_the_storage_service_is_down(client, app):
    app.extensions["store"] = UnreachableStore()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "checks": {"database": "ok", "storage": "unavailable"},
                                   "down": ["storage"]}


def test_readyz_is_503_when_the_storage_directory_cannot_be_created(client, app, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the storage directory should be")
    app.extensions["store"] = LocalStore(blocker / "storage")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == "unavailable"
    assert "not-a-directory" not in response.get_data(as_text=True)  # the probe does not leak paths


# ---------------------------------------------------------------------------------------------------
# sessions


def test_login_starts_a_fresh_session(client, auth, teacher):
    with client.session_transaction() as sess:
        sess["planted"] = "set before login"
    response = auth.login(teacher.username, PASSWORD)
    assert response.status_code == 302
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert sess["_user_id"] == f"staff:{teacher.id}:{teacher.session_nonce}"


def test_logout_ends_the_session(client, auth, teacher):
    auth.login(teacher.username, PASSWORD)
    assert client.get("/teacher/").status_code == 200
    response = auth.logout()
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    with client.session_transaction() as sess:
        assert "_user_id" not in sess
    after = client.get("/teacher/")
    assert after.status_code == 302 and "/login" in after.headers["Location"]


@pytest.mark.parametrize("login", ["teacher_x", "nobody_here", "13800009999", "80000001"])
def test_wrong_password_or_unknown_account_gets_one_message(client, auth, teacher, login):
    response = auth.login(login, "not-the-password")
    assert response.status_code == 200
    assert "账号或密码不正确" in response.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess


# ---------------------------------------------------------------------------------------------------
# CSRF and headers


def test_post_without_csrf_token_gets_the_friendly_400_page(client, app, teacher):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/login", data={"login": teacher.username, "password": PASSWORD})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "页面已过期" in page and "返回首页" in page
    with client.session_transaction() as sess:
        assert "_user_id" not in sess


def test_post_with_the_pages_csrf_token_is_accepted(client, app, teacher):
    app.config["WTF_CSRF_ENABLED"] = True
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"', form)
    assert token, "the login form carries a CSRF token"
    response = client.post("/login", data={"login": teacher.username, "password": PASSWORD,
                                           "csrf_token": token.group(1) or token.group(2)})
    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/login", "/healthz", "/no-such-page"])
def test_security_headers_are_on_every_response(client, path):
    headers = client.get(path).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    parts = (d.strip().partition(" ") for d in headers["Content-Security-Policy"].split(";"))
    directives = {name: rest for name, _, rest in parts}
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    # local storage: photos come from /files/ on this origin, so no other host or scheme is allowed
    assert directives["img-src"].split() == ["'self'", "data:", "blob:"]
    assert not re.search(r"https?:|\*", headers["Content-Security-Policy"])


@pytest.mark.parametrize(("endpoint", "img_src"), [
    ("https://s3.example.cn:9000/base", "'self' data: blob: https://s3.example.cn:9000"),
    (None, "'self' data: blob: https:"),  # AWS itself: presigned URLs go to a bucket host not known here
])
def test_csp_lets_images_come_from_s3_when_photos_are_stored_there(db_url, endpoint, img_src):
    app = create_app({"TESTING": True, "SECRET_KEY": "k" * 40, "DATABASE_URL": db_url, "SMS_BACKEND": "memory",
                      "STORAGE_URL": "s3://photos/sheets", "S3_ENDPOINT_URL": endpoint, "S3_REGION": "cn-north-1"})
    try:
        csp = app.test_client().get("/healthz").headers["Content-Security-Policy"]
    finally:
        app.extensions["db_engine"].dispose()
    assert f"img-src {img_src};" in csp


# ---------------------------------------------------------------------------------------------------
# configuration


def test_production_without_secret_key_fails_fast_with_a_clear_message(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app()


def test_production_with_a_short_secret_key_is_refused(monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "short")
    with pytest.raises(ConfigError, match="SECRET_KEY is too short"):
        create_app()


# ---------------------------------------------------------------------------------------------------
# demo data


def printed_codes(output: str) -> list[tuple[str, str]]:
    """(code, student name) for each registration code the demo printed."""
    return re.findall(r"^ {4}([2-9A-Z]{4}-[2-9A-Z]{4})  (\S+?)（", output, flags=re.M)


def test_demo_command_is_idempotent_and_prints_accounts_and_codes(runner, db):
    first = runner.invoke(args=["demo"])
    second = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    # the demo school and the two other schools of the demo county, all three in the county
    assert db.scalar(select(func.count()).select_from(School)) == 3
    district = db.scalar(select(District).where(District.code == DISTRICT_CODE))
    assert db.scalar(select(func.count()).select_from(School).where(School.district_id == district.id)) == 3
    supervisor = db.scalar(select(StaffUser).where(StaffUser.username == SUPERVISOR[0]))
    assert (supervisor.role, supervisor.district_id) == ("supervisor", district.id)
    school = db.scalar(select(School).where(School.code == SCHOOL_CODE))
    assert db.scalar(select(func.count()).select_from(SchoolClass).where(SchoolClass.school_id == school.id)) == 2
    assert db.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 40
    for username, _display, password in (ADMIN, *TEACHERS, SUPERVISOR):
        assert f"{username} / {password}" in second.output
    assert PARENT_PHONE in second.output
    assert len(printed_codes(first.output)) == len(printed_codes(second.output)) == 5
    # each run replaces the printed codes, so only the five latest ones are usable
    assert db.scalar(select(func.count()).select_from(RegistrationCode)
                     .where(RegistrationCode.revoked_at.is_(None))) == 5


def test_a_code_printed_by_the_demo_registers_a_parent(runner, client, outbox):
    result = runner.invoke(args=["demo"])
    code, name = printed_codes(result.output)[0]
    started = client.post("/register", data={"consent": "y", "code": code, "student_name": name,
                                             "phone": "13912345678"})
    assert started.status_code == 302
    finished = client.post("/register/verify", data={"sms_code": sms_code(outbox), "password": "secret-pass-1",
                                                      "password_confirm": "secret-pass-1"})
    assert finished.status_code == 302 and "/parent/students/" in finished.headers["Location"]
    assert name in client.get(finished.headers["Location"]).get_data(as_text=True)


def test_demo_command_is_refused_in_production(runner, app, db):
    app.config["APP_ENV"] = "production"
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0
    assert "refused" in result.output and "production" in result.output
    assert db.scalar(select(func.count()).select_from(School)) == 0


# ---------------------------------------------------------------------------------------------------
# password hashing


def test_passwords_are_hashed_with_argon2id_at_owasp_strength(teacher):
    for stored in (teacher.password_hash, hash_password("another-pass-1")):
        match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+", stored)
        assert match, stored[:30]
        memory, time, parallelism = map(int, match.groups())
        assert memory >= 19456 and time >= 2 and parallelism >= 1
    assert PASSWORD not in teacher.password_hash
    assert hash_password("same-pass-1") != hash_password("same-pass-1")  # salted
    assert verify_password(teacher.password_hash, PASSWORD)
    assert not verify_password(teacher.password_hash, PASSWORD + "x")

"""The Twilio backend: the official client's real requests against a local fake API, and its failures."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime, timedelta

import pytest

from confirm.services.outbox import SmsError
from tests.fakes import message_error, start_fake_twilio
from webapp.adapters.sms import TwilioNotifier, notifier_from_config

SID, TOKEN, FROM = "AC" + "0" * 32, "secret-token", "+15005550006"


@pytest.fixture
def fake():
    fake, server = start_fake_twilio()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def twilio(fake) -> TwilioNotifier:
    return TwilioNotifier(SID, TOKEN, FROM, api_url=fake.url, timeout=5)


def test_send_posts_the_exact_message_request_and_returns_twilios_id(fake, twilio):
    fake.reply(201, {"sid": "SM0123456789abcdef0123456789abcdef"})

    provider_id = twilio.send("13812345678", "【测试小学】小明同学家长您好")

    assert provider_id == "SM0123456789abcdef0123456789abcdef"
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.form == {"To": ["+8613812345678"], "From": [FROM], "Body": ["【测试小学】小明同学家长您好"]}
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_invalid_number_is_a_permanent_failure_with_a_readable_reason(fake, twilio):
    fake.reply(400, message_error(400, 21211, "The 'To' number +8613800000000 is not a valid phone number."))

    with pytest.raises(SmsError) as caught:
        twilio.send("13800000000", "text")

    assert caught.value.permanent is True
    assert str(caught.value.message) == "手机号码无效"
    assert len(fake.requests) == 1  # the client itself does not retry


@pytest.mark.parametrize(("status", "code", "reason"), [
    (429, 20429, "短信服务限流（HTTP 429）"),
    (503, 20503, "短信服务暂时故障（HTTP 503）"),
    (500, 20500, "短信服务暂时故障（HTTP 500）"),
])
def test_rate_limits_and_server_errors_are_temporary(fake, twilio, status, code, reason):
    fake.reply(status, message_error(status, code, "Too many requests" if status == 429 else "Service unavailable"))

    with pytest.raises(SmsError) as caught:
        twilio.send("13812345678", "text")

    assert caught.value.permanent is False
    assert str(caught.value.message) == reason


def test_other_refusals_are_permanent_and_name_twilios_code(fake, twilio):
    fake.reply(400, message_error(400, 21606, "The From phone number is not a valid, SMS-capable number"))

    with pytest.raises(SmsError) as caught:
        twilio.send("13812345678", "text")

    assert caught.value.permanent is True
    assert "21606" in str(caught.value.message)


def test_unreachable_twilio_is_temporary():
    with socket.socket() as s:  # a port nothing listens on: the request never left
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    notifier = TwilioNotifier(SID, TOKEN, FROM, api_url=f"http://127.0.0.1:{port}", timeout=2)

    with pytest.raises(SmsError) as caught:
        notifier.send("13812345678", "text")

    assert caught.value.permanent is False


def test_twilio_failing_twice_is_not_asked_again_until_its_breaker_cools_off(fake, twilio):
    fake.always = (503, message_error(503, 20503, "Service Unavailable"))
    for _ in range(2):
        with pytest.raises(SmsError):
            twilio.send("13812345678", "text")
    asked = len(fake.requests)
    with pytest.raises(SmsError) as caught:
        twilio.send("13812345678", "text")
    assert caught.value.permanent is False and "稍后自动重试" in str(caught.value.message)
    assert len(fake.requests) == asked  # failed fast: the message waits for its retry, nobody waits for Twilio


def test_refusals_of_one_message_do_not_open_the_breaker(fake, twilio):
    fake.always = (400, message_error(400, 21211, "Invalid 'To' Phone Number"))
    for _ in range(3):
        with pytest.raises(SmsError):
            twilio.send("13812345678", "text")
    assert len([r for r in fake.requests if r.method == "POST"]) == 3 and not twilio.breaker.is_open


def test_twilio_backend_needs_its_credentials_from_configuration():
    with pytest.raises(RuntimeError, match="TWILIO_AUTH_TOKEN"):
        notifier_from_config({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID, "TWILIO_FROM": FROM})
    built = notifier_from_config({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                                  "TWILIO_FROM": FROM})
    assert isinstance(built, TwilioNotifier) and built.from_number == FROM


def test_a_message_twilio_has_is_found_in_its_log_and_one_it_lacks_is_not(fake, twilio):
    since = datetime.now(UTC) - timedelta(minutes=1)
    sid = twilio.send("13812345678", "【学籍信息确认】第一条")

    assert twilio.find_sent("13812345678", "【学籍信息确认】第一条", since) == sid
    assert twilio.find_sent("13812345678", "【学籍信息确认】另一条", since) is None
    assert twilio.find_sent("13900000000", "【学籍信息确认】第一条", since) is None
    listed = [r for r in fake.requests if r.method == "GET"][-1]
    assert listed.path.startswith(f"/2010-04-01/Accounts/{SID}/Messages.json")
    assert listed.form["To"] == ["+8613900000000"] and listed.form["From"] == [FROM]


def test_the_deadline_and_the_api_address_come_from_configuration(fake):
    built = notifier_from_config({"SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
                                  "TWILIO_FROM": FROM, "TWILIO_TIMEOUT": 1.5, "TWILIO_API_URL": fake.url})

    assert built.client.http_client.timeout == 1.5
    built.send("13812345678", "text")
    assert fake.sent == [("+8613812345678", "text")]

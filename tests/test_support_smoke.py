"""The test harness itself: real SMTP and a real browser work on this machine."""

import smtplib
from email.message import EmailMessage

import pytest

from paperboy.config import Settings
from paperboy.mail.interfaces import TransientMailError
from paperboy.mail.senders import SMTPSender, get_mail_sender


def test_smtp_sender_delivers_to_a_real_smtp_server(smtp_server):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "Hello"
    msg.set_content("body text")
    SMTPSender(smtp_server.url).send(msg)
    got = smtp_server.wait_for("b@example.org")[0]
    assert got["Subject"] == "Hello" and got.get_content().strip() == "body text"


def test_a_refusing_server_raises_a_transient_error(smtp_server):
    smtp_server.refuse_rate = 1.0
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "x"
    msg.set_content("x")
    with pytest.raises(TransientMailError):
        SMTPSender(smtp_server.url).send(msg)


def test_mail_backend_is_chosen_by_setting(tmp_path):
    assert get_mail_sender(Settings(data_dir=tmp_path)).name == "console"
    assert get_mail_sender(Settings(data_dir=tmp_path, smtp_url="smtp://127.0.0.1:2525")).name == "smtp"
    assert get_mail_sender(Settings(data_dir=tmp_path, mail_backend="null")).name == "null"
    assert smtplib  # stdlib SMTP is what SMTPSender speaks


@pytest.mark.browser
def test_the_browser_renders_a_page(page):
    page.set_content("<p id=x>hello</p>")
    assert page.inner_text("#x") == "hello"

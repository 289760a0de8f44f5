"""Email from template folders: ``<dir>/<name>/{subject.txt, body.txt, body.html}``.

The HTML part is rendered with autoescaping on; the text and subject parts with it off
(they are not HTML), so untrusted titles are escaped where it matters and never
double-escaped where it does not.
"""

from __future__ import annotations

import functools
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from paperboy.mail.addresses import mail_domain
from paperboy.store.models import utcnow

# How every mail is written and read back. The default policy folds header lines at 78
# characters, and a token longer than that (a List-Unsubscribe URL) is then written as
# RFC 2047 encoded-words, which that header may not hold: clients found no <URL> and
# offered no Unsubscribe; a Subject folded before a quote got an empty encoded-word.
# 998 is the line limit of RFC 5322.
MAIL_POLICY = policy.default.clone(max_line_length=998)


@functools.lru_cache(maxsize=16)
def _envs(template_dir: str) -> tuple[Environment, Environment]:
    loader = FileSystemLoader(template_dir)
    # Mail templates are read once per process: no file check at each render (a batch
    # renders thousands of messages a minute).
    html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined, auto_reload=False)
    text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True,
                       auto_reload=False)
    return html, text


def macros(template_dir: Path, path: str, name: str):
    """(text, html): the macro ``name`` of ``<path>.txt`` (unescaped) and of ``<path>.html``
    (autoescaped), as the parts that import them render them."""
    html_env, text_env = _envs(str(template_dir))
    return (getattr(text_env.get_template(f"{path}.txt").module, name),
            getattr(html_env.get_template(f"{path}.html").module, name))


def render_parts(template_dir: Path, name: str, context: dict) -> tuple[str, str, str | None]:
    """(subject, text, html or None) of one message, without building it (a caller that
    writes MIME itself, the digest's batch renderer, saves building and re-reading it)."""
    html_env, text_env = _envs(str(template_dir))
    subject = " ".join(text_env.get_template(f"{name}/subject.txt").render(context).split())
    text = text_env.get_template(f"{name}/body.txt").render(context)
    html = None
    if (template_dir / name / "body.html").exists():
        html = html_env.get_template(f"{name}/body.html").render(context)
    return subject, text, html


def render_email(
    template_dir: Path,
    name: str,
    context: dict,
    *,
    to: str,
    sender: str,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """Render one message; ``body.html`` is optional (text-only mail)."""
    subject, text, html = render_parts(template_dir, name, context)
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = format_datetime(utcnow())
    msg["Message-ID"] = message_id or make_msgid(domain=mail_domain(sender))
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to the sender
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg

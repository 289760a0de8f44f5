"""Forms and ids no database can hold: NUL characters and numbers past a row id's 32
bits get a clear 4xx on both backends, never a 500."""

from __future__ import annotations

import pytest

HUGE = "99999999999999999999"  # 20 digits: past any 64-bit id
JUST_PAST = str(2**63)  # 19 digits, one past the largest 64-bit integer
PAST_ROW_IDS = str(2**31)  # one past the largest row id (PostgreSQL's integer)


def test_nul_characters_in_any_form_field_are_refused(site):
    paper = site.paper()
    _, member = site.member()
    anonymous = site.client()
    forms = [
        (member, f"/papers/{paper.arxiv_id}/comments", {"body": "hi\x00there"}),
        (member, "/follows", {"kind": "author", "target": "Ada\x00"}),
        (member, "/collections", {"name": "list\x00"}),
        (anonymous, "/signup", {"email": "a\x00@example.org", "password": "x" * 12}),
        (anonymous, "/signin", {"email": "a@example.org\x00", "password": "x" * 12}),
        (anonymous, "/reset", {"email": "\x00a@example.org"}),
        (anonymous, "/signin/magic", {"email": "a@exa\x00mple.org"}),
        (anonymous, "/subscribe", {"email": "a@example.org\x00"}),
        (member, "/account", {"display_name": "Ada\x00"}),
        (member, "/account/email", {"new_email": "new@example.org\x00", "password": "x" * 12}),
        (member, "/account/password", {"current_password": "x" * 12, "new_password": "y\x00" * 6}),
        (member, "/account/delete", {"password": "x\x00" * 6, "comments": "keep"}),
    ]
    for client, path, data in forms:
        r = client.form(path, data, page="/")
        assert r.status_code == 400, (path, r.status_code)
        assert "NUL character" in r.text, path


@pytest.mark.parametrize("number", [HUGE, JUST_PAST, PAST_ROW_IDS, "0", "-1", "00"])
def test_ids_no_row_can_have_are_not_found(site, number):
    _, member = site.member()
    assert member.get(f"/collections/{number}").status_code == 404
    assert member.get(f"/api/collections/{number}").status_code == 404
    assert member.get(f"/collections/{number}/export.bib").status_code == 404
    assert member.get(f"/comments/{number}/edit").status_code == 404
    for path in (f"/collections/{number}/edit", f"/collections/{number}/delete", f"/comments/{number}/delete"):
        assert member.form(path, {"name": "x"}, page="/").status_code == 404, path


def test_a_reply_to_a_comment_id_past_64_bits_is_refused(site):
    paper = site.paper()
    _, member = site.member()
    for parent in (HUGE, JUST_PAST, PAST_ROW_IDS):
        r = member.form(f"/papers/{paper.arxiv_id}/comments", {"body": "reply", "parent_id": parent}, page="/")
        assert r.status_code == 400


def test_a_reply_whose_parent_is_not_a_row_id_is_refused_not_posted_top_level(site):
    paper = site.paper()
    _, member = site.member()
    for parent in ("-1", "0", "abc", "1.5", "\u0663", HUGE):  # \u0663: an Arabic-Indic digit
        r = member.form(f"/papers/{paper.arxiv_id}/comments", {"body": "reply", "parent_id": parent}, page="/")
        assert r.status_code == 400, parent
        assert "parent_id must be a comment" in r.text and "from 1 to" in r.text, parent
    assert site.get_paper(paper.arxiv_id).num_comments == 0  # nothing was posted top-level

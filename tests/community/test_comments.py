"""Comments: threads, safe Markdown with math, edit/delete by the author, exact counts."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from paperboy.community.markdown import render
from paperboy.community.models import Comment


def test_markdown_renders_math_and_keeps_only_safe_markup():
    html = render("**bold** and $a^2 + b^2$ and\n\n$$\\frac{1}{2}$$")
    assert "<strong>bold</strong>" in html and "<math" in html and "<mfrac>" in html
    hostile = [
        "<script>alert(1)</script>", "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)", "<img src=x onerror=alert(1)>", "![a](https://x.org/a.png)",
        '[a](https://ok.org "t" onmouseover=alert(1))', "$<img src=x onerror=alert(1)>$",
        "$\\href{javascript:alert(1)}{x}$", "<a href='javascript:alert(1)'>x</a>", "<svg onload=alert(1)>",
        "<iframe src=//evil></iframe>", "[x](vbscript:msgbox)", "<style>*{}</style>",
        "[x](java\tscript:alert(1))", "[x](&#106;avascript:alert(1))", "<https://ok.org\" onclick=\"alert(1)>",
        "javascript:alert(1)", 'https://ok.org/"onmouseover="alert(1)', "arXiv:2401.12345\"><script>alert(1)</script>",
        "arXiv:2401.12345'onclick='alert(1)", "arXiv:javascript:alert(1)",
    ]
    for text in hostile:
        out = render(text)
        for tag in re.findall(r"<[^>]+>", out):
            name = re.match(r"</?([a-z0-9]+)", tag).group(1)
            assert name not in {"script", "img", "svg", "iframe", "style", "object", "embed"}, (text, out)
            assert not re.search(r"\son\w+=", tag), (text, out)
            for href in re.findall(r'href="([^"]*)"', tag):
                assert href.startswith(("http://", "https://", "mailto:", "/papers/")), (text, out)
    links = render("[a](https://ok.org) and <mailto:me@example.org>")
    assert links.count('rel="nofollow noopener"') == 2


def test_a_heading_in_a_comment_is_bold_text_not_a_heading_of_the_page():
    """The paper page's outline is the paper's: a "# Heading" typed in a comment made an
    <h1> beside the title's, in the page's largest type."""
    html = render("# Results\n\n## Second *look*\n\nBody text.")
    assert html == "<p><strong>Results</strong></p>\n<p><strong>Second <em>look</em></strong></p>\n<p>Body text.</p>\n"
    assert not re.search(r"<h\d", render("<h1>raw</h1>\n\nSetext\n======"))


def test_an_image_in_a_comment_is_a_link_to_it_not_shown_and_not_lost():
    html = render("See ![Figure 3](https://example.org/f3.png).")
    assert html == ('<p>See <a href="https://example.org/f3.png" rel="nofollow noopener">[image: Figure 3]</a>.</p>\n')
    assert "<img" not in render("![x](https://example.org/x.png)") and "href" not in render("![x](javascript:alert(1))")


def test_math_in_a_comment_is_spaced_as_in_an_abstract():
    from paperboy.web.mathtext import render_math

    spaced = '<mi>n</mi><mspace width="0.167em"></mspace><mi>log</mi><mspace width="0.167em"></mspace><mi>n</mi>'
    assert spaced in render(r"The bound $O(n \log n)$ looks tight")  # "O(nlogn)" before
    assert spaced in str(render_math(r"The bound $O(n \log n)$ looks tight"))


def test_bare_addresses_and_arxiv_ids_become_links_except_in_code_or_a_link():
    html = render("Code at https://github.com/q/tool. Compare arXiv:2401.12345v2 and arXiv:hep-th/9901001.")
    assert '<a href="https://github.com/q/tool" rel="nofollow noopener">https://github.com/q/tool</a>.' in html
    assert '<a href="/papers/2401.12345" rel="nofollow noopener">arXiv:2401.12345v2</a>' in html  # the paper, any version
    assert '<a href="/papers/hep-th/9901001" rel="nofollow noopener">arXiv:hep-th/9901001</a>.' in html
    # as typed, not a link: code, an existing link's text, a domain without its scheme, an id
    # that is not one
    kept = render("`https://a.org` and `arXiv:2401.00001`, [arXiv:2401.00002](https://b.org), "
                  "see arxiv.org or e.g. example.com, arXiv:24011.2345 and arXiv:2401.123456")
    assert re.findall(r'href="([^"]*)"', kept) == ["https://b.org"]
    assert "<code>https://a.org</code>" in kept and "<code>arXiv:2401.00001</code>" in kept
    # math beside them still renders
    assert "<math" in render("$x^2$ in arXiv:2401.12345") and "/papers/2401.12345" in render("$x^2$ in arXiv:2401.12345")


def test_addresses_stay_text_past_the_autolink_limit_or_with_an_impossible_host():
    from paperboy.community.markdown import MAX_AUTOLINKS

    listed = " ".join(f"https://site{i}.org/a_(b)" for i in range(MAX_AUTOLINKS + 1))
    html = render(listed)
    assert "<a " not in html and all(f"https://site{i}.org/a_(b)" in html for i in range(MAX_AUTOLINKS + 1))
    assert render(" ".join(f"https://site{i}.org/" for i in range(MAX_AUTOLINKS))).count("<a ") == MAX_AUTOLINKS
    # a host longer than DNS allows: markdown-it would empty it, and the text with it
    host = "a." * 200 + "org"
    html = render(f"http://{host}/x and http://ok.org")
    assert f"http://{host}/x" in html and html.count("<a ") == 1


def _num_comments(site, arxiv_id):
    paper = site.get_paper(arxiv_id)
    with site.engine.connect() as conn:
        visible = conn.scalar(select(func.count()).select_from(Comment).where(
            Comment.paper_id == paper.id, Comment.deleted_at.is_(None), Comment.hidden.is_(False)))
    assert paper.num_comments == visible
    return paper.num_comments


def _comment_ids(site):
    with site.engine.connect() as conn:
        return list(conn.scalars(select(Comment.id).order_by(Comment.id)))


def test_threaded_comments_and_exact_counts(site):
    paper = site.paper()
    a = paper.arxiv_id
    _, alice = site.member(name="Alice")
    _, bob = site.member(name="Bob")
    before = site.get_paper(a).modified_at
    r = alice.form(f"/papers/{a}/comments", {"body": "First! $E=mc^2$"}, page="/")
    assert r.status_code == 303 and re.fullmatch(rf"/papers/{a}#comment-\d+", r.headers["location"])
    first = _comment_ids(site)[0]
    bob.form(f"/papers/{a}/comments", {"body": "A reply", "parent_id": str(first)}, page="/")
    alice.form(f"/papers/{a}/comments", {"body": "Reply to the reply", "parent_id": str(first + 1)}, page="/")
    assert _num_comments(site, a) == 3
    assert site.get_paper(a).modified_at > before
    page = alice.get(f"/papers/{a}").text
    depths = re.findall(r'id="comment-(\d+)"[^>]*data-depth="(\d+)"', page)
    assert [(int(i), int(d)) for i, d in depths] == [(first, 0), (first + 1, 1), (first + 2, 2)]
    assert "<math" in page and "Discussion (3)" in page
    # For a screen reader, which the thread's shape shows the eye: whom each reply answers,
    # and whose comment each Reply, Edit and Delete is for.
    assert f'id="comment-{first + 1}-by"' in page
    assert page.count('<span class="visually-hidden">, replying to Alice</span>') == 1
    assert page.count('<span class="visually-hidden">, replying to Bob</span>') == 1
    assert f'<summary aria-describedby="comment-{first}-by">Reply</summary>' in page
    assert 'aria-label="Reply to Bob"' in page
    assert f'href="/comments/{first}/edit" aria-describedby="comment-{first}-by">Edit</a>' in page

    # Edit by the author.
    r = alice.form(f"/comments/{first}/edit", {"body": "First, edited"}, page="/")
    assert r.status_code == 303
    assert "First, edited" in alice.get(f"/papers/{a}").text
    # Delete by the author keeps the thread's shape, and the count follows.
    alice.form(f"/comments/{first}/delete", page="/")
    assert _num_comments(site, a) == 2
    page = bob.get(f"/papers/{a}").text
    assert "[deleted]" in page and "A reply" in page and "First, edited" not in page
    # A reply to a deleted comment is refused; an empty comment too.
    assert bob.form(f"/papers/{a}/comments", {"body": "late", "parent_id": str(first)}, page="/").status_code == 400
    assert bob.form(f"/papers/{a}/comments", {"body": "   "}, page="/").status_code == 400
    assert _num_comments(site, a) == 2


def test_comment_rate_limit(site):
    paper = site.paper()
    site.app.state.rate_limits["comment"] = (2, 3600)
    _, client = site.member()
    codes = [client.form(f"/papers/{paper.arxiv_id}/comments", {"body": f"c{i}"}, page="/").status_code for i in range(3)]
    assert codes == [303, 303, 429]
    assert _num_comments(site, paper.arxiv_id) == 2


def test_comments_on_a_missing_paper_are_404(site):
    _, client = site.member()
    assert client.form("/papers/2501.00000/comments", {"body": "hi"}, page="/").status_code == 404


def test_typed_placeholders_and_math_in_links_never_move_mathml_into_attributes():
    from paperboy.community import markdown

    html = markdown.render("Energy $E=mc^2$, [click](http://a.example/\u2063MATH0\u2063) "
                           "and [b](http://x.org/$y$ \"title $w$\")")
    assert html.count("<math") == 1  # only the formula in the text
    assert 'href="http://a.example/%E2%81%A3MATH0%E2%81%A3"' in html  # typed text stays text
    assert 'href="http://x.org/%24y%24"' in html and 'title="title $w$"' in html
    assert not re.search(r'="[^"]*<', html)  # no markup inside any attribute


def test_bracket_and_paren_math_render_like_dollars():
    html = render(r"Inline \(x^2\) and display \[\frac{1}{2}\] and $y$.")
    assert html.count("<math") == 3 and "<msup>" in html and "<mfrac>" in html
    assert "(x^2)" not in html and "[\\frac" not in html
    assert 'display="block"' in html  # \[...\] is display math, like $$...$$
    # An escaped backslash is not a delimiter, and a formula in a link's address stays text.
    assert "<math" not in render(r"a \\(x\\) b")
    linked = render(r"[see](http://x.org/\(y\))")
    assert "<math" not in linked and 'href="http://x.org/%5C%28y%5C%29"' in linked


def test_comments_written_before_new_markdown_rules_are_rendered_again_once(site, tmp_path, monkeypatch):
    """`paperboy comments render`: after an upgrade, stored comments get today's rules."""
    from typer.testing import CliRunner

    from paperboy.cli import app
    from paperboy.community import rerender
    from paperboy.config import get_settings
    from paperboy.store.models import Paper

    paper = site.paper()
    _, alice = site.member(name="Alice")
    alice.form(f"/papers/{paper.arxiv_id}/comments", {"body": "Code: https://github.com/q/tool"}, page="/")
    alice.form(f"/papers/{paper.arxiv_id}/comments", {"body": "Plain words, *as before*."}, page="/")
    old_rules = "<p>Code: https://github.com/q/tool</p>\n"  # what the rules before linkify stored
    with site.engine.begin() as conn:
        linked = conn.scalar(select(func.min(Comment.id)))
        conn.execute(Comment.__table__.update().where(Comment.id == linked).values(body_html=old_rules))
        before = conn.scalar(select(Paper.modified_at).where(Paper.id == paper.id))
    assert "github.com/q/tool</a>" not in alice.get(f"/papers/{paper.arxiv_id}").text

    monkeypatch.setenv("PAPERBOY_DATABASE_URL", site.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("PAPERBOY_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["comments", "render"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "2 comments read, 1 rendered differently now and updated" in result.output
    with site.engine.connect() as conn:
        assert "https://github.com/q/tool</a>" in conn.scalar(select(Comment.body_html).where(Comment.id == linked))
        assert conn.scalar(select(Paper.modified_at).where(Paper.id == paper.id)) > before  # cached pages move on
    assert 'href="https://github.com/q/tool"' in alice.get(f"/papers/{paper.arxiv_id}").text
    # a second run changes nothing
    assert (rerender.render_stored(site.engine).seen, rerender.render_stored(site.engine).changed) == (2, 0)


def test_deleting_ones_own_comment_asks_first(site):
    paper = site.paper()
    _, ada = site.member()
    ada.form(f"/papers/{paper.arxiv_id}/comments", {"body": "A first thought."}, page="/")
    page = ada.get(f"/papers/{paper.arxiv_id}").text
    form = re.search(r'<form method="post" action="/comments/\d+/delete"[^>]*>', page).group(0)
    assert 'data-confirm="Delete this comment? Replies to it stay, under [deleted]."' in form
    _, bob = site.member()
    assert "/delete" not in bob.get(f"/papers/{paper.arxiv_id}").text  # only the author is asked


def test_a_refused_comment_leads_back_to_the_form_it_came_from(site):
    paper = site.paper()
    _, ada = site.member()
    r = ada.form(f"/papers/{paper.arxiv_id}/comments", {"body": "   \n  "}, page="/",
                 headers={"Referer": f"http://testserver/papers/{paper.arxiv_id}#new-comment"})
    assert r.status_code == 400 and "A comment cannot be empty." in r.text
    assert f'<a href="/papers/{paper.arxiv_id}#new-comment" data-history-back' in r.text
    # Only to pages of this site.
    r = ada.form(f"/papers/{paper.arxiv_id}/comments", {"body": " "}, page="/",
                 headers={"Referer": "https://elsewhere.example/phish"})
    assert r.status_code == 400 and "data-history-back" not in r.text


def test_a_comment_nested_past_what_markdown_reads_is_refused_not_cut_short(site):
    """markdown-it stops reading at its nesting limit: the text below would vanish."""
    paper = site.paper()
    _, ada = site.member()
    for deep in ("- " * 200 + "the end", "> " * 300 + "the end", "1. " * 12 + "the end"):
        for path in (f"/papers/{paper.arxiv_id}/comments", "/comments/preview"):
            r = ada.form(path, {"body": deep}, page="/")
            assert r.status_code == 400 and "nested at most 8 deep" in r.text, (path, deep[:12])
    with site.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Comment)) == 0
    fine = "- " * 8 + "the end\n\n" + "> " * 16 + "quoted end"
    assert ada.form(f"/papers/{paper.arxiv_id}/comments", {"body": fine}, page="/").status_code == 303
    shown = render(fine)
    assert "the end" in shown and "quoted end" in shown

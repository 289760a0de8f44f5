"""Text against what is behind it, in a real browser: WCAG's contrast ratio of every
element a selector finds, for tests that hold pages and mails to AA (4.5:1)."""

from __future__ import annotations

# (text, ratio) for each rendered element matching the selector: its colour against the
# first background behind it that is not transparent (white when none is).
_RATIOS = """(selector) => {
    const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
        v = v / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const backOf = el => { for (; el; el = el.parentElement) { const bg = getComputedStyle(el).backgroundColor;
        if (bg !== 'rgba(0, 0, 0, 0)' && bg !== 'transparent') return bg; } return 'rgb(255, 255, 255)'; };
    return [...document.querySelectorAll(selector)].filter(el => el.getClientRects().length).map(el => {
        const a = lum(getComputedStyle(el).color), z = lum(backOf(el));
        return [el.textContent.trim().slice(0, 30), (Math.max(a, z) + 0.05) / (Math.min(a, z) + 0.05)];
    });
}"""

AA = 4.5


def contrast_ratios(page, selector: str) -> list[tuple[str, float]]:
    """Each rendered element matching ``selector`` on ``page``: (its text, its contrast ratio)."""
    return [(text, ratio) for text, ratio in page.evaluate(_RATIOS, selector)]


def below_aa(page, selector: str) -> list[tuple[str, float]]:
    """Those of ``contrast_ratios`` under 4.5:1, ratios rounded for a readable failure."""
    return [(text, round(ratio, 2)) for text, ratio in contrast_ratios(page, selector) if ratio < AA]

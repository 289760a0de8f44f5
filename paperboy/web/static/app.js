// Paperboy: small progressive enhancements. Every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // Long abstracts: clamp to three lines with a toggle button.
  function setupAbstracts(root) {
    root.querySelectorAll(".abstract[data-long]").forEach(function (el) {
      if (el.dataset.enhanced) return;
      el.dataset.enhanced = "1";
      el.classList.add("clamped");
      var button = document.createElement("button");
      button.type = "button";
      button.className = "abstract-toggle";
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", el.id);
      button.textContent = "Show more";
      button.addEventListener("click", function () {
        var open = el.classList.toggle("clamped") === false;
        button.setAttribute("aria-expanded", open ? "true" : "false");
        button.textContent = open ? "Show less" : "Show more";
      });
      el.insertAdjacentElement("afterend", button);
    });
  }

  // Each card's buttons are described by its title: a screen reader going from button to
  // button hears "Upvote (3 votes)" and which paper, not the same names on every card.
  // (A label that names the paper already, as the save menu's, is left as it is.)
  function describeCards(root) {
    root.querySelectorAll("article.card").forEach(function (card) {
      var title = card.querySelector(".card-title");
      if (!title) return;
      if (!title.id) title.id = card.id + "-title";
      // A search result's "+ Seed For you" sits beside its card, not in it.
      (card.closest(".search-hit") || card).querySelectorAll("button, summary").forEach(function (el) {
        var label = el.getAttribute("aria-label") || "";
        if (!el.hasAttribute("aria-describedby") && label.indexOf("\u201c") < 0) {
          el.setAttribute("aria-describedby", title.id);
        }
      });
    });
  }

  // A form sent without a reload: the same POST with its CSRF token as a header and
  // JSON back, which onAnswer shows. A 401 goes to sign in; any other failure sends the
  // form the plain way (every such route answers a form too).
  // While a form is on its way another press of it is ignored. Its button is marked busy,
  // not disabled: disabling the focused button threw keyboard focus back to the page, so
  // a member who voted with Enter could not press it again or Tab on from it.
  function sendInPlace(form, onAnswer, submitter) {
    if (form.dataset.sending) return;
    form.dataset.sending = "1";
    var button = submitter || form.querySelector("button");
    // A save menu's buttons each post to their own collection (formaction).
    var url = (submitter && submitter.getAttribute("formaction")) || form.getAttribute("action");
    var tokenInput = form.querySelector('input[name="csrf_token"]');
    var headers = { "Accept": "application/json" };
    if (tokenInput) headers["X-CSRF-Token"] = tokenInput.value;
    if (button) button.setAttribute("aria-busy", "true");
    // getAttribute: a form with an input named "action" (Not interested) shadows form.action.
    fetch(url, { method: "POST", headers: headers, body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = "/signin?next=" + encodeURIComponent(window.location.pathname + window.location.search);
          return null;
        }
        if (!response.ok) throw new Error(url + " failed: " + response.status);
        return response.json();
      })
      .then(function (data) { if (data) onAnswer(form, button, data); })
      .catch(function () { form.setAttribute("action", url); HTMLFormElement.prototype.submit.call(form); })
      .finally(function () {
        delete form.dataset.sending;
        if (button) button.removeAttribute("aria-busy");
      });
  }

  function showVote(form, button, data) {
    var count = form.querySelector(".vote-count");
    if (count) count.textContent = String(data.upvotes);
    if (button) {
      button.classList.toggle("voted", !!data.voted);
      button.setAttribute("aria-pressed", data.voted ? "true" : "false");
      button.setAttribute("aria-label", "Upvote (" + data.upvotes + (data.upvotes === 1 ? " vote)" : " votes)"));
    }
  }

  // The button shows its new state, which undoes it.
  function showNotInterested(form, button, data) {
    var on = !!data.not_interested;
    var action = form.querySelector('input[name="action"]');
    if (action) action.value = on ? "off" : "on";
    if (button) {
      button.classList.toggle("dismissed", on);
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.textContent = on ? "Not interested \u2713" : "Not interested";
      button.title = on ? "Undo: pick papers like this again" : "Fewer papers like this in For you";
    }
  }

  // Among For you's picks a dismissed paper gives way to one line saying so, with Undo
  // (which sends the same form again, now set to "off"); the count follows. The page is
  // ranked again on the next visit.
  function showPickDismissed(form, button, data) {
    showNotInterested(form, button, data);
    var pick = form.closest(".pick");
    var on = !!data.not_interested;
    var line = pick.querySelector(".pick-gone");
    if (on && !line) {
      line = document.createElement("p");
      line.className = "pick-gone";
      line.setAttribute("role", "status");
      var title = pick.querySelector(".card-title");
      line.appendChild(document.createTextNode("Not interested: “" + (title ? title.textContent.trim() : "this paper") +
        "” is gone from your picks, and papers like it rank lower. "));
      var undo = document.createElement("button");
      undo.type = "button";
      undo.className = "pick-undo";
      undo.textContent = "Undo";
      undo.addEventListener("click", function () { undo.disabled = true; sendInPlace(form, showPickDismissed); });
      line.appendChild(undo);
      pick.insertBefore(line, pick.firstChild);
    }
    pick.classList.toggle("pick-dismissed", on);
    var count = document.querySelector(".ranked-count");
    if (count) {
      var n = Math.max(0, parseInt(count.dataset.count, 10) + (on ? -1 : 1));
      count.dataset.count = String(n);
      count.textContent = n + (n === 1 ? " paper" : " papers");
    }
    if (on) {
      line.querySelector("button").focus();
    } else {
      if (line) line.remove();
      if (button) button.focus();
    }
  }

  // A save menu's button: pressed means saved there, and pressing it again takes the
  // paper out (the other route).
  function markSaved(button, id, name, saved) {
    button.setAttribute("formaction", "/collections/" + id + (saved ? "/remove" : "/add"));
    button.setAttribute("aria-pressed", saved ? "true" : "false");
    button.textContent = (saved ? "\u2713 " : "+ ") + name;
  }

  // Saved or unsaved in place: the button, the menu's summary ("Saved"), and a status
  // line that a screen reader announces. A new collection gets its button in the list
  // (a name the member already used is that collection: its button).
  function showSaved(form, button, data) {
    var menu = form.closest(".save-menu");
    var summary = menu.querySelector("summary");
    var title = (summary.getAttribute("aria-label") || "").replace(/^Saved: |^Save /, "");
    var list = menu.querySelector(".save-form:not(.new-collection)");
    if (form.classList.contains("new-collection")) {
      form.querySelector('input[name="name"]').value = "";
      button = list && (list.querySelector('button[formaction="/collections/' + data.id + '/add"]') ||
                        list.querySelector('button[formaction="/collections/' + data.id + '/remove"]'));
      if (!button) {
        if (!list) {
          list = document.createElement("form");
          list.method = "post";
          list.className = "save-form";
          list.setAttribute("aria-label", "Collections for \u201c" + title + "\u201d");
          form.querySelectorAll('input[type="hidden"]').forEach(function (input) { list.appendChild(input.cloneNode()); });
          form.parentNode.insertBefore(list, form);
        }
        button = document.createElement("button");
        list.appendChild(button);
      }
    }
    markSaved(button, data.id, data.name, !!data.saved);
    var any = !!menu.querySelector('.save-form button[aria-pressed="true"]');
    summary.textContent = any ? "Saved" : "Save";
    summary.setAttribute("aria-label", (any ? "Saved: " : "Save ") + title);
    var status = menu.querySelector(".save-status");
    if (!status) {
      status = document.createElement("p");
      status.className = "save-status";
      status.setAttribute("role", "status");
      menu.querySelector(".menu-panel").appendChild(status);
    }
    var said = (data.saved ? "Saved to \u201c" : "Removed from \u201c") + data.name + "\u201d.";
    // A live region made and filled in one step is often not read out: a new one is
    // filled a moment later, once it is in the page.
    if (status.textContent) status.textContent = said;
    else setTimeout(function () { status.textContent = said; }, 50);
    button.focus();
  }

  // "Seed For you" under a search result: the form gives way to the line the card shows
  // once it seeds the feed.
  function showSeeded(form) {
    var line = document.createElement("p");
    line.className = "seed-done muted small";
    line.setAttribute("role", "status");
    line.textContent = "\u2713 Seeds your For you feed";
    // Focus stays where the member was (the button is gone): on the line saying it is done.
    var focused = form.contains(document.activeElement);
    line.tabIndex = -1;
    form.replaceWith(line);
    if (focused) line.focus();
  }

  // Votes, saves, seeds and "Not interested" without a reload.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    var show = form.classList.contains("vote-form") ? showVote
      : form.classList.contains("save-form") && form.closest(".save-menu") ? showSaved
      : form.classList.contains("seed-one-form") ? showSeeded
      : !form.classList.contains("dismiss-form") ? null
      : form.closest(".pick") ? showPickDismissed : showNotInterested;
    if (!show) return;
    event.preventDefault();
    sendInPlace(form, show, event.submitter);
  });

  // Copy buttons (BibTeX).
  function setupCopy(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) {
      var target = document.getElementById(button.dataset.copy);
      if (!target || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(target.textContent).then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }

  // Live comment preview. The server renders the text with the same function as a
  // stored comment (Markdown, math to MathML, then an allow-list sanitiser), so the
  // preview is exactly what will be posted; its HTML is already clean when it arrives.
  function setupPreviews(root) {
    root.querySelectorAll("textarea[data-preview]").forEach(function (area) {
      var token = area.form && area.form.querySelector('input[name="csrf_token"]');
      if (area.dataset.enhanced || !token) return;
      area.dataset.enhanced = "1";
      var box = document.createElement("div");
      box.className = "comment-preview";
      box.hidden = true;
      // Not a live region: redrawn a moment after each keystroke, it was read out again
      // whenever the writer paused, over what they typed. Only a failure is said.
      var note = document.createElement("p");
      note.className = "visually-hidden";
      note.setAttribute("role", "status");
      var label = document.createElement("p");
      label.className = "comment-preview-label";
      label.textContent = "Preview";
      var body = document.createElement("div");
      body.className = "comment-body";
      box.appendChild(label);
      box.appendChild(body);
      area.insertAdjacentElement("afterend", box);
      box.insertAdjacentElement("afterend", note);
      var timer = null, busy = false, again = false, shown = null;

      function show(html, failed) {
        if (failed) body.textContent = html; else body.innerHTML = html;
        box.classList.toggle("preview-error", !!failed);
        box.hidden = false;
        note.textContent = failed ? html : "";
      }

      function send() {
        // One request at a time; the newest text is sent when the last one returns.
        if (busy) { again = true; return; }
        var text = area.value;
        if (text === shown) return;
        if (!text.trim()) { box.hidden = true; shown = text; return; }
        busy = true;
        var data = new FormData();
        data.append("body", text);
        fetch(area.dataset.preview, {
          method: "POST", body: data, credentials: "same-origin",
          headers: { "Accept": "application/json", "X-CSRF-Token": token.value }
        })
          .then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (json) {
              if (!response.ok) throw new Error(json.detail || "Preview unavailable (" + response.status + ").");
              return json;
            });
          })
          .then(function (json) { shown = text; show(json.html, false); })
          .catch(function (error) { show(error.message, true); })
          .finally(function () { busy = false; if (again) { again = false; send(); } });
      }

      area.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(send, 250);
      });
      if (area.value.trim()) send();
    });
  }

  // A comment being written is kept in this tab (sessionStorage, gone when the tab
  // closes) until it is posted: a post refused because the member signed out in another
  // tab, or a page left by mistake, does not lose it. A posted comment's page opens at
  // #comment-N, which is how the draft it came from is known to be sent.
  var DRAFT = "pb-draft:", SENT = "pb-draft-sent";
  function draftStore() {
    try { return window.sessionStorage || null; } catch (e) { return null; }
  }
  function draftKey(form) {
    var action = form.getAttribute("action") || "";
    if (!form.classList.contains("comment-form") || !/\/comments$/.test(action)) return null;
    var parent = form.querySelector('input[name="parent_id"]');
    return DRAFT + action + "|" + (parent ? parent.value : "");
  }
  function setupDrafts(root) {
    var store = draftStore();
    if (!store) return;
    var sent = store.getItem(SENT);
    if (sent) {
      store.removeItem(SENT);
      if (/^#comment-\d+$/.test(location.hash) && sent.indexOf(DRAFT + location.pathname + "/comments|") === 0) store.removeItem(sent);
    }
    root.querySelectorAll("form.comment-form").forEach(function (form) {
      var key = draftKey(form), area = form.querySelector("textarea[name=body]");
      if (!key || !area || area.dataset.draft) return;
      area.dataset.draft = "1";
      var kept = store.getItem(key);
      if (kept && !area.value.trim()) {
        area.value = kept;
        var note = document.createElement("p");
        note.className = "draft-note muted small";
        note.textContent = "Your unsent text, kept in this tab.";
        area.insertAdjacentElement("beforebegin", note);
        var reply = form.closest("details.reply");
        if (reply) reply.open = true;
      }
      area.addEventListener("input", function () {
        if (area.value.trim()) store.setItem(key, area.value); else store.removeItem(key);
      });
      form.addEventListener("submit", function () { store.setItem(SENT, key); });
    });
  }

  // A form with data-confirm asks first (the CSP allows no inline handlers); without
  // this file it submits at once.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Menus are <details>: close an open one on a click elsewhere, when focus leaves it
  // (Tab past its last item: left open, it covered the next card's controls, and the
  // one focused beneath it could not be seen), or on Escape.
  var MENUS = "details.menu[open], details.save-menu[open]";
  function closeMenusOutside(event) {
    document.querySelectorAll(MENUS).forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  }
  document.addEventListener("click", closeMenusOutside);
  document.addEventListener("focusin", closeMenusOutside);
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll(MENUS).forEach(function (menu) {
      var inside = menu.contains(document.activeElement);
      menu.open = false;
      if (inside) menu.querySelector("summary").focus();
    });
  });

  // Keys for a reader going down a day's papers: j / k move between them, and the
  // others act on the one reached. Never while typing, nor with a modifier key held
  // (the browser's shortcuts stay the browser's). Each key presses what a mouse would,
  // so it does exactly what the card's own buttons do.
  var KEYS = [
    ["j", "next paper"], ["k", "previous paper"], ["o", "open the paper"],
    ["v", "upvote (again: take the vote back)"], ["s", "save to a collection"],
    ["x", "not interested (again: undo)"], ["m", "more like this"], ["/", "search"], ["?", "show these keys"]
  ];
  var current = null;

  function typing(el) {
    return !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }

  function selectCard(card) {
    if (current) current.classList.remove("card-current");
    current = card;
    card.classList.add("card-current");
    var link = card.querySelector(".card-title a");
    if (link) link.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
  }

  function step(delta) {
    var cards = Array.prototype.slice.call(document.querySelectorAll("article.card"));
    if (!cards.length) return;
    var at = cards.indexOf(current);
    if (at < 0) {  // start from the card holding the focus, else the first one in view
      var inside = document.activeElement && document.activeElement.closest("article.card");
      at = cards.indexOf(inside);
      if (at < 0) {
        var first = cards.findIndex(function (c) { return c.getBoundingClientRect().bottom > 0; });
        selectCard(cards[Math.max(0, first)]);
        return;
      }
    }
    selectCard(cards[Math.max(0, Math.min(cards.length - 1, at + delta))]);
  }

  function press(selector) {
    var target = current && current.querySelector(selector);
    if (target) target.click();
    return !!target;
  }

  function openSave() {
    var menu = current && current.querySelector("details.save-menu");
    if (!menu) return;
    menu.open = true;
    var first = menu.querySelector(".menu-panel button, .menu-panel input:not([type=hidden])");
    if (first) {
      first.focus();
      menu.querySelector(".menu-panel").scrollIntoView({ block: "nearest" });
    }
  }

  function focusSearch() {
    var box = document.getElementById("header-q");
    if (!box) return false;
    box.focus();
    box.select();
    return true;
  }

  var KEYS_OFF = "paperboy-keys-off";
  var keysDisabled = null;  // read once from the browser's storage, then kept here
  function keysOff() {
    if (keysDisabled === null) {
      try { keysDisabled = localStorage.getItem(KEYS_OFF) === "1"; } catch (e) { keysDisabled = false; }
    }
    return keysDisabled;
  }

  var helpDialog = null;
  function showKeys() {
    if (!helpDialog) {
      helpDialog = document.createElement("dialog");
      helpDialog.className = "keys-help";
      helpDialog.setAttribute("aria-labelledby", "keys-help-title");
      var title = document.createElement("h2");
      title.id = "keys-help-title";
      title.textContent = "Keyboard shortcuts";
      var list = document.createElement("dl");
      KEYS.forEach(function (pair) {
        var key = document.createElement("dt");
        var kbd = document.createElement("kbd");
        kbd.textContent = pair[0];
        key.appendChild(kbd);
        var what = document.createElement("dd");
        what.textContent = pair[1];
        list.appendChild(key);
        list.appendChild(what);
      });
      // WCAG 2.1.4: single keys can be turned off (a speech-input or screen-reader user
      // may send them by accident); kept in this browser, and the footer's button
      // still opens this to turn them on again.
      var toggle = document.createElement("label");
      toggle.className = "keys-toggle";
      var box = document.createElement("input");
      box.type = "checkbox";
      box.checked = !keysOff();
      box.addEventListener("change", function () {
        try { localStorage.setItem(KEYS_OFF, box.checked ? "" : "1"); } catch (e) { /* private mode: this page only */ }
        keysDisabled = !box.checked;
      });
      toggle.appendChild(box);
      toggle.appendChild(document.createTextNode(" Use these single-key shortcuts"));
      var close = document.createElement("button");
      close.type = "button";
      close.textContent = "Close";
      close.addEventListener("click", function () { helpDialog.close(); });
      helpDialog.appendChild(title);
      helpDialog.appendChild(list);
      helpDialog.appendChild(toggle);
      helpDialog.appendChild(close);
      document.body.appendChild(helpDialog);
    }
    if (helpDialog.open) helpDialog.close(); else helpDialog.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target) || keysOff()) return;
    if (helpDialog && helpDialog.open && event.key !== "?") return;
    var done = true;
    switch (event.key) {
      case "j": step(1); break;
      case "k": step(-1); break;
      case "o": done = press(".card-title a"); break;
      case "v": done = press(".vote-form button"); break;
      case "x": done = press(".dismiss-form button"); break;
      case "m": done = press(".more-like"); break;
      case "s": openSave(); break;
      case "/": done = focusSearch(); break;
      case "?": showKeys(); break;
      default: done = false;
    }
    if (done) event.preventDefault();
  });
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-keys-help]")) showKeys();
  });

  // A new digest comes at its hour in the subscriber's own time zone, not the server's.
  function setupTimezones(root) {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
    root.querySelectorAll("input[data-browser-timezone]").forEach(function (input) { input.value = zone; });
  }

  // A comment of only spaces passes the browser's "required": say so before sending.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("comment-form")) return;
    var area = form.querySelector("textarea[name=body]");
    if (area && !area.value.trim()) {
      event.preventDefault();
      area.setCustomValidity("Write something first: a comment cannot be empty.");
      area.reportValidity();
      area.addEventListener("input", function () { area.setCustomValidity(""); }, { once: true });
      return;
    }
    // Sent once: a double click posted the comment twice (the server also drops a repeat).
    if (form.dataset.sending) { event.preventDefault(); return; }
    form.dataset.sending = "1";
    var button = form.querySelector("button[type=submit], button:not([type])");
    if (button) button.setAttribute("aria-busy", "true");
  }, true);
  // Back to a page whose comment was sent (kept whole by the browser): the text posted is
  // not left in the box to be posted again, and the form may be sent anew.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.comment-form[data-sending]").forEach(function (form) {
      delete form.dataset.sending;
      var button = form.querySelector("[aria-busy]");
      if (button) button.removeAttribute("aria-busy");
      var area = form.querySelector("textarea[name=body]");
      if (area) area.value = "";
    });
  });

  // A form sent back with its reason gets the focus, brought into view when it is not (a
  // wrong password low on the account page read as if nothing happened): an alert that
  // is in the page as it loads is not read out (sign-in's "wrong password" went unheard,
  // the focus on the page), and a keyboard goes on from it to its form.
  function showRefusal() {
    var refused = document.querySelector("main .error[role=alert], main .notice-error[role=alert]");
    if (!refused) return false;
    if (refused.getBoundingClientRect().bottom > window.innerHeight) refused.scrollIntoView({ block: "center" });
    refused.setAttribute("tabindex", "-1");
    refused.focus({ preventScroll: true });
    return true;
  }

  // After a form sent without JavaScript (follow, pause, an alert, settings), the page
  // comes back with a notice. A status that is there as the page loads is not read out,
  // and the focus was on the page, a dozen Tab stops from the member's place: the notice
  // is said again once loaded (through a live region of its own, filled after the load),
  // and the focus goes to the card the form was sent from (the address's fragment), else
  // to the notice.
  function showNotice() {
    var notice = document.querySelector("main .notice[role=status]");
    if (!notice || !/[?&]notice=/.test(location.search)) return;
    var again = document.createElement("p");
    again.className = "visually-hidden";
    again.setAttribute("role", "status");
    document.body.appendChild(again);
    setTimeout(function () { again.textContent = notice.textContent; }, 150);
    var at = null;
    try { at = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1))); }
    catch (e) { at = null; }  // a malformed fragment (%E0%A4%A): no card to return to
    if (!at || at.contains(notice)) at = notice;
    if (!at.hasAttribute("tabindex")) at.setAttribute("tabindex", "-1");
    at.focus({ preventScroll: at !== notice });
  }

  // "Back to the form" on a refused form's error page: the browser's Back, which keeps
  // what was typed (the link's own address is the page without it).
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-history-back]");
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });

  function init() {
    setupAbstracts(document); describeCards(document); setupCopy(document); setupDrafts(document); setupPreviews(document);
    setupTimezones(document);
    if (!showRefusal()) showNotice();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

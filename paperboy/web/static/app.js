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

  // Votes without a reload: POST with the form's CSRF token, JSON back.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("vote-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    var tokenInput = form.querySelector('input[name="csrf_token"]');
    var headers = { "Accept": "application/json" };
    if (tokenInput) headers["X-CSRF-Token"] = tokenInput.value;
    if (button) button.disabled = true;
    fetch(form.action, { method: "POST", headers: headers, body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) {
          window.location.href = "/signin?next=" + encodeURIComponent(window.location.pathname + window.location.search);
          return null;
        }
        if (!response.ok) throw new Error("vote failed: " + response.status);
        return response.json();
      })
      .then(function (data) {
        if (!data) return;
        var count = form.querySelector(".vote-count");
        if (count) count.textContent = String(data.upvotes);
        if (button) {
          button.classList.toggle("voted", !!data.voted);
          button.setAttribute("aria-pressed", data.voted ? "true" : "false");
          button.setAttribute("aria-label", "Upvote (" + data.upvotes + " votes)");
        }
      })
      .catch(function () { form.submit(); })
      .finally(function () { if (button) button.disabled = false; });
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

  function init() { setupAbstracts(document); setupCopy(document); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();

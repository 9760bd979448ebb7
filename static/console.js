// ParamGate console: copy buttons, dismissable alerts, keyboard shortcuts. No inline script (CSP script-src 'self').
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var source = document.querySelector(copy.getAttribute("data-copy"));
      if (!source) return;
      var text = source.textContent.trim();
      var done = function () {
        copy.textContent = "Copied";
        copy.classList.add("copied");
        setTimeout(function () { copy.textContent = "Copy"; copy.classList.remove("copied"); }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { selectText(source); });
      } else {
        selectText(source);
        try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
      }
      return;
    }
    var dismiss = event.target.closest("[data-dismiss]");
    if (dismiss) { dismiss.closest(".alert").remove(); return; }
    var clear = event.target.closest("[data-clear]");
    if (clear) { var target = document.querySelector(clear.getAttribute("data-clear")); if (target) target.innerHTML = ""; return; }
    if (event.target.closest("[data-help]")) { toggleHelp(); }
  });

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function toggleHelp() {
    var help = document.getElementById("help");
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }

  // Clear an old error when a new request starts.
  document.addEventListener("htmx:beforeRequest", function () {
    var flash = document.getElementById("flash");
    if (flash) flash.innerHTML = "";
  });

  var pendingG = false;
  document.addEventListener("keydown", function (event) {
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || event.target.isContentEditable) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    if (pendingG) {
      pendingG = false;
      var link = document.querySelector('.main-nav a[data-key="' + event.key + '"]');
      if (link) { event.preventDefault(); link.click(); }
      return;
    }
    switch (event.key) {
      case "g": pendingG = true; setTimeout(function () { pendingG = false; }, 1200); break;
      case "/": {
        var search = document.querySelector("[data-search]");
        if (search) { event.preventDefault(); search.focus(); search.select(); }
        break;
      }
      case "n": {
        var create = document.querySelector("[data-new]");
        if (create) { event.preventDefault(); create.click(); var input = create.closest("details, section"); if (input) { var first = input.querySelector("input:not([type=hidden])"); if (first) first.focus(); } }
        break;
      }
      case "[": case "]": {
        var page = document.querySelector('[data-page="' + (event.key === "[" ? "prev" : "next") + '"]');
        if (page) { event.preventDefault(); page.click(); }
        break;
      }
      case "?": event.preventDefault(); toggleHelp(); break;
    }
  });
})();

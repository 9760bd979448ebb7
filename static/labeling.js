// The labeling queue's keys: 1 left, 2 right, 3 tie, 4 both bad, s skip, u undo (not while typing a comment,
// not as the second key of a "g x" navigation shortcut). A key pressed while the last label is still being
// sent is kept and applied once the new panel is in place, so fast reviewers lose no keystroke.
(function () {
  "use strict";
  var lastG = 0;
  var pending = null;

  function press(key) {
    var control = document.querySelector('#label-panel [data-choice="' + key + '"]');
    if (control) control.click();
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var tag = (event.target && event.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    var key = event.key.toLowerCase();
    if (key === "g") { lastG = Date.now(); return; }
    if (Date.now() - lastG < 1200) { lastG = 0; return; }
    if (["1", "2", "3", "4", "s", "u"].indexOf(key) === -1) return;
    if (!document.querySelector('#label-panel [data-choice="' + key + '"]')) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (document.querySelector("#label-panel .htmx-request, #label-panel.htmx-request")) {
      pending = key; // one label at a time: this one goes once the panel is back
      return;
    }
    press(key);
  }, true);

  document.addEventListener("htmx:afterSettle", function () {
    if (pending === null || document.querySelector("#label-panel .htmx-request")) return;
    var key = pending;
    pending = null;
    press(key);
  });
})();

// Site-wide: the "Presentation" toggle (bigger type for projectors), remembered in
// localStorage. A classic script loaded in <head> so the class is set before first paint.
(function () {
  "use strict";
  var KEY = "glassbox.presentation";
  var root = document.documentElement;
  function stored() {
    try {
      return window.localStorage.getItem(KEY) === "on";
    } catch (e) {
      return false;
    }
  }
  function apply(on) {
    root.classList.toggle("presentation", on);
    var button = document.getElementById("presentation-toggle");
    if (button) button.setAttribute("aria-pressed", on ? "true" : "false");
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("presentation-toggle");
    if (!button) return;
    button.hidden = false;
    apply(root.classList.contains("presentation"));
    button.addEventListener("click", function () {
      var on = !root.classList.contains("presentation");
      apply(on);
      try {
        window.localStorage.setItem(KEY, on ? "on" : "off");
      } catch (e) {
        /* private mode: the toggle still works for this page */
      }
      document.dispatchEvent(new CustomEvent("presentationchange", { detail: { on: on } }));
    });
  });
})();

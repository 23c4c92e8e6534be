// trackhook console: progressive enhancements only. Every page works without this
// file; it adds copying to the clipboard and show/hide toggles.
(function () {
  "use strict";

  // <button type="button" data-copy="#id" hidden>Copy</button> copies the text (or
  // the value of a form field) of the element #id. Buttons start hidden, since they
  // do nothing without this script and a clipboard.
  function setupCopy(btn) {
    if (!navigator.clipboard) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var target = document.querySelector(btn.getAttribute("data-copy"));
      if (!target) {
        return;
      }
      var text = "value" in target && target.tagName !== "BUTTON" ? target.value : target.textContent;
      var label = btn.textContent;
      navigator.clipboard.writeText(text.trim()).then(function () {
        btn.textContent = "Copied";
        btn.setAttribute("aria-live", "polite");
        window.setTimeout(function () { btn.textContent = label; }, 2000);
      }, function () {
        btn.textContent = "Copy failed: select the text";
      });
    });
  }

  // <button type="button" data-toggle="#id" aria-controls="id" hidden>Show</button>
  // shows or hides #id (its hidden attribute). Without the script the element is
  // simply shown, so start it visible and let the script hide it with
  // data-start-hidden on the target.
  function setupToggle(btn) {
    var target = document.querySelector(btn.getAttribute("data-toggle"));
    if (!target) {
      return;
    }
    if (target.hasAttribute("data-start-hidden")) {
      target.hidden = true;
    }
    btn.hidden = false;
    var sync = function () { btn.setAttribute("aria-expanded", String(!target.hidden)); };
    sync();
    btn.addEventListener("click", function () {
      target.hidden = !target.hidden;
      sync();
    });
  }

  function init() {
    document.querySelectorAll("[data-copy]").forEach(setupCopy);
    document.querySelectorAll("[data-toggle]").forEach(setupToggle);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();

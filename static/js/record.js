/* The record page: open a field's correction editor in place, and warn before leaving with unsaved corrections.
   Without this file every "更正" link opens the field's own page, which saves the same way. */
(function () {
  "use strict";
  var form = document.querySelector("form.record-form");
  if (!form) { return; }
  var question = form.getAttribute("data-unsaved");
  var dirty = false;

  function typed() { dirty = true; }
  form.addEventListener("input", typed);
  form.addEventListener("change", typed);
  form.addEventListener("submit", function (event) { if (!event.defaultPrevented) { dirty = false; } });

  // Closing the page, the back button, a reload.
  window.addEventListener("beforeunload", function (event) {
    if (!dirty) { return undefined; }
    event.preventDefault();
    event.returnValue = question;
    return question;
  });

  // Another child, the account page, logging out, the language: ask in the page as well, since some in-app
  // browsers (WeChat's among them, on some phones) leave without ever showing the beforeunload question.
  function leave(event) {
    if (!dirty) { return; }
    if (window.confirm(question)) { dirty = false; return; }
    event.preventDefault();
    event.stopImmediatePropagation();
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href]") : null;
    if (!link || link.hasAttribute("data-editor") || link.getAttribute("href").charAt(0) === "#") { return; }
    leave(event);
  }, true);
  document.addEventListener("submit", function (event) {
    if (event.target !== form) { leave(event); }
  }, true);

  // "更正": fetch the field's editors and put each into its row; on any failure, open the field's own page.
  form.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-editor]") : null;
    if (!link || !window.fetch || !window.DOMParser) { return; }
    event.preventDefault();
    if (link.getAttribute("aria-busy")) { return; }  // a second tap while the first is on its way
    link.setAttribute("aria-busy", "true");
    window.fetch(link.href + "?part=editor", {credentials: "same-origin"}).then(function (answer) {
      if (!answer.ok || answer.headers.get("X-Editor") !== "1") { throw new Error("no editor"); }
      return answer.text();
    }).then(function (html) {
      var first = null;
      var parsed = new window.DOMParser().parseFromString(html, "text/html");
      Array.prototype.forEach.call(parsed.querySelectorAll(".editor[data-for]"), function (editor) {
        var row = document.getElementById("row-" + editor.getAttribute("data-for"));
        var slot = row && row.querySelector(".editor-slot");
        if (!slot || row.querySelector(".editor")) { return; }  // already open
        var opener = row.querySelector("a[data-editor]");
        if (opener) { opener.hidden = true; }
        var placed = slot.appendChild(document.importNode(editor, true));
        var section = row.closest ? row.closest("details") : null;
        if (section) { section.open = true; }
        first = first || placed;
      });
      Array.prototype.forEach.call(form.querySelectorAll("[data-save]"), function (b) { b.hidden = false; });
      var input = first && first.querySelector("input, select");
      if (input) { input.focus(); }
      link.removeAttribute("aria-busy");
    }).catch(function () {
      window.location.href = link.href;
    });
  });
  form.setAttribute("data-ready", "");  // the editors now open in place (tests on a slow network wait for this)
}());

/* Small progressive enhancements; every page works without this file. */
(function () {
  "use strict";

  // <form data-confirm="question">: ask before submitting (e.g. re-issuing codes, starting a campaign).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  }, true);

  // A form being sent shows it and takes no second tap (the server would do it once anyway: see repeat_guard).
  // The buttons come back when the page is shown again (back button) or after a while (a stalled network).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || (form.method || "").toLowerCase() !== "post") { return; }
    if (form.hasAttribute("data-progress") || form.hasAttribute("data-photo-upload") ||
        form.hasAttribute("data-batch-upload")) { return; }  // their scripts disable and re-enable them
    var buttons = form.querySelectorAll("button[type=submit], input[type=submit]");
    window.setTimeout(function () {  // after the browser has taken the button's name and value into the form
      buttons.forEach(function (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); });
      form.setAttribute("aria-busy", "true");
    }, 0);
    window.setTimeout(function () { release(form); }, 15000);
  });
  function release(form) {
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (b) {
      b.disabled = false; b.removeAttribute("aria-busy");
    });
  }
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[aria-busy]").forEach(release);
  });

  // [data-message-total]: "将发送 N 条短信" follows the ticked students (each checkbox carries data-messages).
  document.querySelectorAll("[data-message-total]").forEach(function (line) {
    var form = line.closest("form");
    var template = line.getAttribute("data-message-total");
    var first = line.firstChild;
    if (!form || !first || first.nodeType !== 3) { return; }
    function update() {
      var total = 0;
      form.querySelectorAll("input[data-messages]:checked").forEach(function (box) {
        total += parseInt(box.getAttribute("data-messages"), 10) || 0;
      });
      first.nodeValue = template.replace("%(n)s", total);
    }
    form.addEventListener("change", update);
  });

  // <form data-progress>: send the upload with a progress bar, then show the page the server answers with.
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.XMLHttpRequest || !window.FormData || event.defaultPrevented) { return; }
      event.preventDefault();
      var box = form.querySelector(".upload-progress");
      var bar = box && box.querySelector("progress");
      var text = box && box.querySelector("[data-progress-text]");
      var button = form.querySelector("button[type=submit]");
      if (button && button.disabled) { return; }  // a second tap while the first is on its way
      if (box) { box.hidden = false; }
      if (button) { button.disabled = true; }
      var xhr = new XMLHttpRequest();
      xhr.open(form.method || "POST", form.action || window.location.href);
      xhr.upload.onprogress = function (e) {
        if (!e.lengthComputable || !bar) { return; }
        var pct = Math.round(100 * e.loaded / e.total);
        bar.value = pct;
        if (text) { text.textContent = pct < 100 ? pct + "%" : (form.getAttribute("data-progress-done") || "…"); }
      };
      xhr.onload = function () {
        // Show the answer as it is (loading it again would lose its one-time messages), at its own address.
        if (xhr.responseURL && window.history && window.history.replaceState) {
          window.history.replaceState(null, "", xhr.responseURL);
        }
        document.open(); document.write(xhr.responseText); document.close();
      window.scrollTo(0, 0);  // the answer's message is at the top
      };
      xhr.onerror = function () {
        if (button) { button.disabled = false; }
        if (text) { text.textContent = form.getAttribute("data-progress-error") || "网络错误，请重试"; }
      };
      xhr.send(new FormData(form));
    });
  });
})();

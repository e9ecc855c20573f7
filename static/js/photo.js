/* Sheet photo upload: shrink the photo in the phone (long edge ~2000 px, JPEG 0.85) before sending it,
   show progress, and offer a retry on a broken connection or when the server could not take the photo (its own
   error page's message is shown in place and the chosen photo stays in the form; the retry sends the form's same
   one-time token, so a photo that did arrive is not filed twice). Without JavaScript the plain form still works,
   and when the browser cannot decode the photo (e.g. HEIC on Android) the original file is sent. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-photo-upload]");
  if (!form || !window.FormData || !window.XMLHttpRequest || !window.Promise || !window.URL ||
      !HTMLCanvasElement.prototype.toBlob) { return; }
  var input = form.querySelector("input[type=file]");
  var box = form.querySelector(".upload-progress");
  var bar = box && box.querySelector("progress");
  var text = box && box.querySelector("[data-progress-text]");
  var retry = form.querySelector("[data-retry]");
  var button = form.querySelector("button[type=submit]");
  var EDGE = 2000, QUALITY = 0.85, SMALL = 700 * 1024;
  var pending = null;

  function say(message) { if (text) { text.textContent = message; } }

  function shrink(file) {
    return new Promise(function (resolve) {
      if (!/^image\//.test(file.type) || file.size <= SMALL) { resolve(file); return; }
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () {
        var scale = Math.min(1, EDGE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (blob) { resolve(blob && blob.size < file.size ? blob : file); }, "image/jpeg", QUALITY);
      };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(file); };
      img.src = url;
    });
  }

  function send(photo) {
    pending = photo;
    var data = new FormData(form);
    data.set(input.name, photo, photo.name || "photo.jpg");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    if (box) { box.hidden = false; }
    if (retry) { retry.hidden = true; }
    if (button) { button.disabled = true; }
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) { return; }
      var pct = Math.round(100 * e.loaded / e.total);
      if (bar) { bar.value = pct; }
      say(pct < 100 ? pct + "%" : form.getAttribute("data-checking"));
    };
    xhr.onload = function () {
      if (xhr.status === 0) { failed(); return; }
      if (xhr.status >= 500) { refused(xhr.responseText); return; }
      // Show the page the server answered with (after its redirect) as it is: loading it again would lose the
      // one-time message ("提交成功") that this response already carries.
      if (xhr.responseURL && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", xhr.responseURL);
      }
      document.open(); document.write(xhr.responseText); document.close();
      window.scrollTo(0, 0);  // the answer's message is at the top
    };
    xhr.onerror = xhr.ontimeout = failed;
    xhr.timeout = 120000;
    xhr.send(data);
  }

  function failed() {
    say(form.getAttribute("data-failed"));
    if (retry) { retry.hidden = false; }
    if (button) { button.disabled = false; }
  }

  // The server could not take the photo (a service it needs is down): say so here, keep the chosen photo in the
  // form and offer the retry, instead of replacing the page and losing the photo.
  function refused(html) {
    var message = form.getAttribute("data-failed");
    if (window.DOMParser) {
      var page = new DOMParser().parseFromString(html || "", "text/html");
      var parts = ["[data-error-message]", "[data-error-hint]", "[data-error-id]"].map(function (selector) {
        var node = page.querySelector(selector);
        return node ? node.textContent.trim() : "";
      }).filter(Boolean);
      if (parts.length) { message = parts.join(" "); }
    }
    say(message);
    if (text) { text.setAttribute("role", "alert"); }
    if (retry) { retry.hidden = false; }
    if (button) { button.disabled = false; }
  }

  if (retry) { retry.addEventListener("click", function () { if (pending) { send(pending); } }); }

  form.addEventListener("submit", function (event) {
    if (!input.files || !input.files[0]) { return; }  // let the server say what is missing
    event.preventDefault();
    if (button && button.disabled) { return; }  // a second tap while the photo is being prepared or sent
    if (button) { button.disabled = true; }
    say(form.getAttribute("data-preparing"));
    if (box) { box.hidden = false; }
    shrink(input.files[0]).then(send);
  });
})();

/* Photo uploads on a weak network: the sheet and the proof forms (form[data-photo-upload]).

   - Every photo is shrunk in the phone before it is sent (long edge 2000 px, JPEG 0.85) and turned upright by its
     EXIF orientation — also on older WebViews that ignore the tag when they decode: the tag is read from the file's
     bytes and applied on the canvas, but only when this browser does not already apply it (found out once with a
     tiny tagged test image, as blueimp-load-image does). A photo the browser cannot decode (HEIC on many Androids)
     or a PDF is sent as it is: the server decides.
   - Progress shows the bytes sent; the retry button shows only after a failure. A retry sends the form's same
     one-time token, so a photo that did arrive before the connection dropped is not filed twice.
   - A refusal (the server's 400 page) keeps the chosen photo: the server's messages are put next to the fields
     they are about, scrolled into view, and the form takes the fresh one-time token of the server's page.
   - Without JavaScript, canvas or XHR uploads the plain form still works (the server shows its errors at the top
     of the page, each linked to its field). */
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-photo-upload]");
  if (!forms.length || !window.FormData || !FormData.prototype.set || !window.XMLHttpRequest || !window.Promise ||
      !window.URL || !URL.createObjectURL || !window.DOMParser || !window.FileReader || !window.Blob) { return; }

  var EDGE = 2000, QUALITY = 0.85, KEEP_BELOW = 300 * 1024, EXIF_BYTES = 256 * 1024;
  var canvas = document.createElement("canvas");
  var canDraw = !!(canvas.getContext && canvas.getContext("2d") && canvas.toBlob);

  // A 2×1 JPEG tagged orientation 6 (turn 90° clockwise): a browser that applies the tag decodes it as 1×2.
  var TAGGED = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/4QAiRXhpZgAATU0AKgAAAAgAAQESAAMAAAABAAYAAAAAAAD/" +
    "2wBDAFA3PEY8MlBGQUZaVVBfeMiCeG5uePWvuZHI////////////////////////////////////////////////////2wBDAVVaWnhpeO" +
    "uCguv/////////////////////////////////////////////////////////////////////////wAARCAABAAIDASIAAhEBAxEB/8QA" +
    "FQABAQAAAAAAAAAAAAAAAAAAAAT/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFAEBAAAAAAAAAAAAAAAAAAAAAP/EABQRAQAAAAAAAAAAAAAA" +
    "AAAAAAD/2gAMAwEAAhEDEQA/ALQAf//Z";
  var browserTurnsPhotos = canDraw ? new Promise(function (resolve) {
    var img = new Image();
    img.onload = function () { resolve(img.naturalWidth === 1 && img.naturalHeight === 2); };
    img.onerror = function () { resolve(false); };
    img.src = TAGGED;
  }) : Promise.resolve(false);

  // --- EXIF orientation from the file's bytes ------------------------------------------------------------------

  function orientationInTiff(view, tiff, end) {
    if (tiff + 8 > end) { return 1; }
    var order = view.getUint16(tiff);
    if (order !== 0x4949 && order !== 0x4D4D) { return 1; }
    var little = order === 0x4949;
    var ifd = tiff + view.getUint32(tiff + 4, little);
    if (ifd + 2 > end) { return 1; }
    var count = view.getUint16(ifd, little);
    for (var i = 0; i < count; i++) {
      var entry = ifd + 2 + i * 12;
      if (entry + 12 > end) { return 1; }
      if (view.getUint16(entry, little) === 0x0112) {
        var value = view.getUint16(entry + 8, little);
        return value >= 1 && value <= 8 ? value : 1;
      }
    }
    return 1;
  }

  function orientationIn(view) {
    if (view.byteLength < 4 || view.getUint16(0) !== 0xFFD8) { return 1; }
    var offset = 2;
    while (offset + 4 <= view.byteLength) {
      var marker = view.getUint16(offset);
      if ((marker & 0xFF00) !== 0xFF00 || marker === 0xFFDA) { return 1; }  // not a segment, or the image data
      var size = view.getUint16(offset + 2);
      if (marker === 0xFFE1 && offset + 10 <= view.byteLength && view.getUint32(offset + 4) === 0x45786966 &&
          view.getUint16(offset + 8) === 0) {  // "Exif\0\0"
        return orientationInTiff(view, offset + 10, Math.min(view.byteLength, offset + 2 + size));
      }
      offset += 2 + size;
    }
    return 1;
  }

  function readOrientation(file) {
    return new Promise(function (resolve) {
      if (!/^image\/jpe?g$/i.test(file.type)) { resolve(1); return; }
      var reader = new FileReader();
      reader.onload = function () {
        try { resolve(orientationIn(new DataView(reader.result))); } catch (e) { resolve(1); }
      };
      reader.onerror = function () { resolve(1); };
      reader.readAsArrayBuffer(file.slice(0, EXIF_BYTES));
    });
  }

  // --- shrinking -----------------------------------------------------------------------------------------------

  function decode(file) {
    return new Promise(function (resolve) {
      var url = URL.createObjectURL(file);
      var img = new Image();
      img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
      img.onerror = function () { URL.revokeObjectURL(url); resolve(null); };
      img.src = url;
    });
  }

  function draw(img, orientation) {
    var scale = Math.min(1, EDGE / Math.max(img.naturalWidth, img.naturalHeight));
    var w = Math.round(img.naturalWidth * scale), h = Math.round(img.naturalHeight * scale);
    var turned = orientation >= 5;
    var out = document.createElement("canvas");
    out.width = turned ? h : w;
    out.height = turned ? w : h;
    var ctx = out.getContext("2d");
    switch (orientation) {  // the image as its camera meant it: mirror and/or turn on the canvas
      case 2: ctx.transform(-1, 0, 0, 1, w, 0); break;
      case 3: ctx.transform(-1, 0, 0, -1, w, h); break;
      case 4: ctx.transform(1, 0, 0, -1, 0, h); break;
      case 5: ctx.transform(0, 1, 1, 0, 0, 0); break;
      case 6: ctx.transform(0, 1, -1, 0, h, 0); break;
      case 7: ctx.transform(0, -1, -1, 0, h, w); break;
      case 8: ctx.transform(0, -1, 1, 0, 0, w); break;
    }
    ctx.drawImage(img, 0, 0, w, h);
    return out;
  }

  function jpegName(name) { return (name || "photo").replace(/\.[^.]*$/, "") + ".jpg"; }

  // The photo to send: shrunk and upright, or the file itself when it cannot be (or need not be) made smaller.
  function prepare(file) {
    if (!canDraw || !/^image\//.test(file.type)) { return Promise.resolve(file); }
    return Promise.all([decode(file), readOrientation(file), browserTurnsPhotos]).then(function (got) {
      var img = got[0], orientation = got[2] ? 1 : got[1];
      if (!img || !img.naturalWidth) { return file; }  // the browser cannot read it: the server will say
      var big = Math.max(img.naturalWidth, img.naturalHeight) > EDGE;
      if (!big && orientation === 1 && file.size <= KEEP_BELOW) { return file; }
      return new Promise(function (resolve) {
        draw(img, orientation).toBlob(function (blob) {
          // The original is upright too once the server reads its tag: send whichever is smaller.
          if (!blob || blob.size >= file.size) { resolve(file); return; }
          blob.name = jpegName(file.name);
          resolve(blob);
        }, "image/jpeg", QUALITY);
      });
    }, function () { return file; });
  }

  // --- one upload form -----------------------------------------------------------------------------------------

  function size(bytes) {
    return bytes >= 1024 * 1024 ? (bytes / 1024 / 1024).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  function fill(template, values) {
    return (template || "").replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function Upload(form) {
    this.form = form;
    this.input = form.querySelector("input[type=file]");
    this.box = form.querySelector(".upload-progress");
    this.bar = this.box && this.box.querySelector("progress");
    this.text = this.box && this.box.querySelector("[data-progress-text]");
    this.retry = form.querySelector("[data-retry]");
    this.button = form.querySelector("button[type=submit]");
    this.photo = null;  // the prepared photo of the chosen file, kept for a retry or a corrected resend
    this.busy = false;
    var self = this;
    if (!this.input) { return; }
    this.input.addEventListener("change", function () { self.photo = null; self.clearErrors(self.input); });
    if (this.retry) { this.retry.addEventListener("click", function () { if (self.photo) { self.send(); } }); }
    form.addEventListener("submit", function (event) { self.submit(event); });
    form.setAttribute("data-ready", "");  // from now on a photo is shrunk before it is sent
  }

  Upload.prototype.say = function (message, isAlert) {
    if (this.box) { this.box.hidden = false; }
    if (this.text) {
      this.text.textContent = message;
      if (isAlert) { this.text.setAttribute("role", "alert"); } else { this.text.removeAttribute("role"); }
    }
  };

  Upload.prototype.settle = function (showRetry) {
    this.busy = false;
    if (this.retry) { this.retry.hidden = !showRetry; }
    if (this.button) { this.button.disabled = false; }
  };

  Upload.prototype.submit = function (event) {
    if (!this.input.files || !this.input.files[0]) { return; }  // let the server say what is missing
    event.preventDefault();
    if (this.busy) { return; }  // a second tap while the photo is being prepared or sent
    this.busy = true;
    if (this.button) { this.button.disabled = true; }
    if (this.retry) { this.retry.hidden = true; }
    var self = this, file = this.input.files[0];
    if (this.photo && this.photo.source === file) { this.send(); return; }
    this.say(this.form.getAttribute("data-preparing"));
    prepare(file).then(function (photo) {
      self.photo = { source: file, blob: photo, name: photo === file ? file.name : photo.name };
      self.send();
    });
  };

  Upload.prototype.send = function () {
    var self = this, form = this.form;
    this.busy = true;
    if (this.button) { this.button.disabled = true; }
    if (this.retry) { this.retry.hidden = true; }
    var data = new FormData(form);
    data.set(this.input.name, this.photo.blob, this.photo.name || "photo.jpg");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", (form.getAttribute("action") || window.location.href).split("#")[0]);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) { return; }
      if (self.bar) { self.bar.value = Math.round(100 * e.loaded / e.total); }
      self.say(e.loaded < e.total ? fill(form.getAttribute("data-sending"), { sent: size(e.loaded), total: size(e.total) })
                                  : form.getAttribute("data-checking"));
    };
    xhr.onload = function () {
      if (xhr.status === 0) { self.failed(); return; }
      if (xhr.status >= 500) { self.serverTrouble(xhr.responseText); return; }
      if (xhr.status === 400) { self.refused(xhr.responseText); return; }
      // Show the page the server answered with (after its redirect) as it is: loading it again would lose the
      // one-time message ("提交成功") that this response already carries.
      if (xhr.responseURL && window.history && window.history.replaceState) {
        window.history.replaceState(null, "", xhr.responseURL.split("#")[0]);
      }
      document.open(); document.write(xhr.responseText); document.close();
      window.scrollTo(0, 0);  // the answer's message is at the top
    };
    xhr.onerror = xhr.ontimeout = function () { self.failed(); };
    xhr.timeout = 180000;
    this.say(form.getAttribute("data-checking"));
    if (this.bar) { this.bar.value = 0; }
    xhr.send(data);
  };

  // The connection dropped or timed out: nothing is known to be saved; the retry sends the same token.
  Upload.prototype.failed = function () {
    this.say(this.form.getAttribute("data-failed"), true);
    this.settle(true);
  };

  // The server could not take the photo (a service it needs is down): its own message here, the photo kept, the
  // retry offered (a server error lets the token go, so the same form can be sent again).
  Upload.prototype.serverTrouble = function (html) {
    var page = new DOMParser().parseFromString(html || "", "text/html");
    var parts = ["[data-error-message]", "[data-error-hint]", "[data-error-id]"].map(function (selector) {
      var node = page.querySelector(selector);
      return node ? node.textContent.trim() : "";
    }).filter(Boolean);
    this.say(parts.length ? parts.join(" ") : this.form.getAttribute("data-failed"), true);
    this.settle(true);
  };

  Upload.prototype.clearErrors = function (input) {
    var box = input.closest ? input.closest(".field") : null;
    if (!box) { return; }
    box.classList.remove("has-error");
    Array.prototype.forEach.call(box.querySelectorAll(".field-error"), function (node) { node.remove(); });
  };

  // Refused (400): the server's messages next to the fields they are about, the first scrolled into view; the
  // chosen photo stays; the fresh one-time token of the server's page replaces the used one.
  Upload.prototype.refused = function (html) {
    var self = this, form = this.form;
    var page = new DOMParser().parseFromString(html || "", "text/html");
    var first = null;
    Array.prototype.forEach.call(form.querySelectorAll("input[name], select[name], textarea[name]"), function (el) {
      if (!el.id || el.type === "hidden") { return; }
      self.clearErrors(el);
      var there = page.getElementById(el.id);
      var box = el.closest ? el.closest(".field") : null;
      var errors = there && there.closest ? there.closest(".field").querySelectorAll(".field-error") : [];
      if (!box || !errors.length) { return; }
      box.classList.add("has-error");
      Array.prototype.forEach.call(errors, function (node) { box.appendChild(document.importNode(node, true)); });
      first = first || el;
    });
    var answered = page.getElementById(this.input.id);
    var theirs = answered ? answered.form || answered.closest("form") : null;
    ["_once", "csrf_token"].forEach(function (name) {
      var fresh = theirs && theirs.querySelector("input[name=" + name + "]");
      var mine = form.querySelector("input[name=" + name + "]");
      if (fresh && mine) { mine.value = fresh.value; }
    });
    if (!theirs) {  // the page no longer offers this form (e.g. the sheet form waits for a proof): show that page
      document.open(); document.write(html); document.close();
      return;
    }
    var summary = page.getElementById("problems");
    var shown = document.getElementById("problems");  // the list at the top from an earlier try: now this try's
    if (shown && summary) { shown.parentNode.replaceChild(document.importNode(summary, true), shown); }
    else if (shown) { shown.parentNode.removeChild(shown); }
    this.say(first ? form.getAttribute("data-refused") : (summary ? summary.textContent.replace(/\s+/g, " ").trim()
                                                                  : form.getAttribute("data-refused")), true);
    if (this.bar) { this.bar.value = 0; }
    this.settle(false);
    var target = first || this.text;
    if (target && target.scrollIntoView) { target.scrollIntoView({ block: "center" }); }
    if (first && first.focus) { first.focus({ preventScroll: true }); }
  };

  Array.prototype.forEach.call(forms, function (form) { return new Upload(form); });
})();

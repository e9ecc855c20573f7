/* Batch upload of sheet photos. On the upload page: create the batch, then send the photos one per request
   (the server caps a request at MAX_UPLOAD_MB) with a progress bar, and open the results. On the results page:
   poll the status while photos are still being matched, then reload to show the table and the hand-filing forms.
   Without JavaScript the plain form sends a few photos at once and the results page has a refresh link. */
(function () {
  "use strict";
  if (!window.FormData || !window.XMLHttpRequest) { return; }

  function post(url, data, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("Accept", "application/json");
      if (onProgress) {
        xhr.upload.onprogress = function (e) { if (e.lengthComputable) { onProgress(e.loaded / e.total); } };
      }
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          try { resolve(JSON.parse(xhr.responseText)); } catch (err) { reject(err); }
        } else { reject(new Error(String(xhr.status))); }
      };
      xhr.onerror = xhr.ontimeout = function () { reject(new Error("network")); };
      xhr.timeout = 180000;
      xhr.send(data);
    });
  }

  // Each request its own one-time token: a request retried by the browser is then done once (see repeat_guard).
  function once() {
    var bytes = new Uint8Array(18);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function fill(template, n, total) {
    return template.replace("%(n)s", n).replace("%(total)s", total);
  }

  var form = document.querySelector("form[data-batch-upload]");
  if (form && window.Promise) {
    var input = form.querySelector("input[type=file]");
    var box = form.querySelector(".upload-progress");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    var button = form.querySelector("button[type=submit]");
    var hint = form.querySelector("[data-no-js-hint]");
    var token = form.querySelector("input[name=csrf_token]");
    if (hint) { hint.hidden = true; }

    form.addEventListener("submit", function (event) {
      var files = Array.prototype.slice.call(input.files || []);
      if (!files.length) { return; }
      event.preventDefault();
      button.disabled = true;
      box.hidden = false;
      var start = new FormData();
      if (token) { start.append("csrf_token", token.value); }
      var first = form.querySelector("input[name=_once]");
      start.append("_once", first ? first.value : once());
      post(form.action || window.location.href, start).then(function (batch) {
        var failed = [];
        var chain = Promise.resolve();
        files.forEach(function (file, i) {
          chain = chain.then(function () {
            text.textContent = fill(form.getAttribute("data-sending"), i + 1, files.length);
            var data = new FormData();
            if (token) { data.append("csrf_token", token.value); }
            data.append("_once", once());
            data.append("photo", file, file.name);
            return post(batch.add_url, data, function (part) {
              bar.value = Math.round(100 * (i + part) / files.length);
            }).catch(function () { failed.push(i + 1); });
          });
        });
        return chain.then(function () {
          bar.value = 100;
          if (failed.length) { window.alert(fill(form.getAttribute("data-failed"), failed.join(", "), files.length)); }
          window.location.href = batch.batch_url;
        });
      }).catch(function () {
        button.disabled = false;
        text.textContent = fill(form.getAttribute("data-failed"), 1, files.length);
      });
    });
  }

  var status = document.querySelector("[data-batch-status]");
  if (status && status.getAttribute("data-pending") === "1" && window.fetch) {
    var progressBar = status.querySelector(".batch-bar");
    var done = status.querySelector("[data-batch-done]");
    var poll = function () {
      fetch(status.getAttribute("data-batch-status"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          progressBar.max = s.total || 1;
          progressBar.value = s.done;
          done.textContent = s.done + " / " + s.total;
          s.items.forEach(function (item) {
            var label = document.querySelector("tr[data-item='" + item.id + "'] [data-item-label]");
            if (label) { label.textContent = item.label; }
          });
          if (s.done >= s.total) { window.location.reload(); } else { window.setTimeout(poll, 2000); }
        })
        .catch(function () { window.setTimeout(poll, 5000); });
    };
    window.setTimeout(poll, 1500);
  }
})();

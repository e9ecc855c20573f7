/* <form data-download>: POST the form with fetch, show progress while the file is made and downloaded, then save it.
   Without this file (or on an old browser) the form simply downloads the file the normal way. */
(function () {
  "use strict";
  if (!window.fetch || !window.FormData || !window.URL || !window.Blob) { return; }

  function filename(response) {
    var header = response.headers.get("Content-Disposition") || "";
    var star = /filename\*=UTF-8''([^;]+)/i.exec(header);
    if (star) { return decodeURIComponent(star[1]); }
    var plain = /filename="?([^";]+)"?/i.exec(header);
    return plain ? plain[1] : "download.pdf";
  }

  function save(blob, name) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  // Read the body chunk by chunk so the bar can show how much has arrived.
  function readWithProgress(response, bar) {
    var total = parseInt(response.headers.get("Content-Length") || "0", 10);
    if (!response.body || !response.body.getReader || !total) { return response.blob(); }
    var reader = response.body.getReader();
    var chunks = [];
    var received = 0;
    bar.max = total;
    function pump() {
      return reader.read().then(function (step) {
        if (step.done) { return new Blob(chunks, { type: response.headers.get("Content-Type") || "" }); }
        chunks.push(step.value);
        received += step.value.length;
        bar.value = received;
        return pump();
      });
    }
    return pump();
  }

  document.querySelectorAll("form[data-download]").forEach(function (form) {
    var box = form.querySelector("[data-download-status]");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-download-text]");
    var button = form.querySelector("button[type=submit]");
    form.addEventListener("submit", function (event) {
      if (event.defaultPrevented) { return; }
      event.preventDefault();
      box.hidden = false;
      bar.removeAttribute("value");  // indeterminate while the server makes the PDF
      text.textContent = form.getAttribute("data-download-busy");
      button.disabled = true;
      fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          if (!response.ok || type.indexOf("text/html") === 0) {
            // An answer with messages (a bad selection, a limit): show that page as it is.
            return response.text().then(function (html) {
              document.open(); document.write(html); document.close();
            });
          }
          return readWithProgress(response, bar).then(function (blob) {
            save(blob, filename(response));
            text.textContent = form.getAttribute("data-download-done");
            button.disabled = false;
          });
        })
        .catch(function () {
          text.textContent = form.getAttribute("data-download-error");
          button.disabled = false;
        });
    });
  });
})();

/* Sortable tables: <table data-sortable> with header links <a data-sort="key" data-numeric="1|0">.
   Without this file the links sort on the server (?sort=key or ?sort=-key); with it, rows are sorted in place. */
(function () {
  "use strict";

  function value(cell, numeric) {
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort")
      : (cell.firstChild ? cell.firstChild.textContent : "");
    if (!numeric) { return raw.trim(); }
    var n = parseFloat(raw);
    return isNaN(n) ? -Infinity : n;
  }

  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    var body = table.tBodies[0];
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th) {
      var link = th.querySelector("a[data-sort]");
      if (!link) { return; }
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var numeric = link.getAttribute("data-numeric") === "1";
        var state = th.getAttribute("aria-sort");
        var descending = state === "none" ? numeric : state === "ascending";
        var index = th.cellIndex;
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.cells.length > index; });
        rows.sort(function (a, b) {
          var x = value(a.cells[index], numeric), y = value(b.cells[index], numeric);
          var order = numeric ? x - y : x.localeCompare(y, "zh-CN");
          return descending ? -order : order;
        });
        rows.forEach(function (r) { body.appendChild(r); });
        Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        if (window.history && window.history.replaceState) {
          var url = new URL(window.location.href);
          url.searchParams.set("sort", (descending ? "-" : "") + link.getAttribute("data-sort"));
          window.history.replaceState(null, "", url.toString());
        }
      });
    });
  });
})();

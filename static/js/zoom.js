// Tap a photo marked data-zoom to see it at full size (scroll to move around); tap again to fit it back.
(function () {
  "use strict";
  document.querySelectorAll("img[data-zoom]").forEach(function (img) {
    img.setAttribute("role", "button");
    img.setAttribute("tabindex", "0");
    img.setAttribute("aria-pressed", "false");
    function toggle() {
      var zoomed = img.classList.toggle("zoomed");
      img.setAttribute("aria-pressed", zoomed ? "true" : "false");
    }
    img.addEventListener("click", toggle);
    img.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        toggle();
      }
    });
  });
})();

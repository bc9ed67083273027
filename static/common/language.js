/* The language menu in the top bar switches at once. A file, not an inline handler: the
   Content-Security-Policy runs no inline script. */
"use strict";
(function () {
  var select = document.getElementById("language-select");
  if (select) {
    select.addEventListener("change", function () {
      select.form.submit();
    });
  }
})();

// fieldcrm's pages work without this script; it only adds to them.
// Each enhancement is switched on by a data- attribute on the page, so the
// script needs no inline code (the Content-Security-Policy allows none).
"use strict";

(function () {
  // A form with data-confirm asks before it is sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

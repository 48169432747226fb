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

(function () {
  // The technician's clock-in form (data-clock-in-position): the browser is
  // asked for its position once, on submit, and only the clock-in point is
  // sent. Refused, unavailable or too slow, the form goes without it.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-clock-in-position")) {
      return;
    }
    if (form.hasAttribute("data-position-asked") || !navigator.geolocation) {
      return;
    }
    event.preventDefault();
    form.setAttribute("data-position-asked", "");
    var sent = false;
    function send() {
      if (!sent) {
        sent = true;
        form.submit();
      }
    }
    navigator.geolocation.getCurrentPosition(
      function (position) {
        form.elements.lat.value = String(position.coords.latitude);
        form.elements.lon.value = String(position.coords.longitude);
        send();
      },
      send,
      { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 }
    );
    // Some browsers never answer when the question is dismissed.
    window.setTimeout(send, 15000);
  });
})();

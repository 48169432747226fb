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

(function () {
  // A section with data-refresh="N" is fetched again from the same page every
  // N seconds and swapped in place (the live map); without script, its own
  // Refresh link does the same. Skipped while the tab is hidden.
  var section = document.querySelector("[data-refresh]");
  if (!section || !window.fetch || !window.DOMParser) {
    return;
  }
  var seconds = parseInt(section.getAttribute("data-refresh"), 10);
  if (!(seconds > 0)) {
    return;
  }
  var id = section.id;
  window.setInterval(function () {
    if (document.hidden) {
      return;
    }
    window.fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        // A lost session or an error page is left for the next real visit.
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (!text) {
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById(id);
        var current = document.getElementById(id);
        if (fresh && current) {
          current.replaceWith(document.importNode(fresh, true));
        }
      })
      .catch(function () {});
  }, seconds * 1000);
})();

(function () {
  // A form with data-from-fragment="a b" takes the values of a and b from the
  // address's fragment (#a=...&b=...), which never reaches the server, into
  // its fields of those names, takes the fragment out of the address and the
  // history, and is sent: the return from Google's consent screen.
  var form = document.querySelector("form[data-from-fragment]");
  if (!form || !window.location.hash || !window.URLSearchParams) {
    return;
  }
  var values = new URLSearchParams(window.location.hash.slice(1));
  var found = false;
  form.getAttribute("data-from-fragment").split(" ").forEach(function (name) {
    var field = form.elements.namedItem(name);
    if (name && field && values.has(name)) {
      field.value = values.get(name);
      found = true;
    }
  });
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  if (found) {
    form.submit();
  }
})();

(function () {
  // A form is sent once: a second click while the first is on its way would
  // make a second record. Registered after the other submit handlers, so a
  // form they held back (a declined confirmation) is not marked as sent.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form.setAttribute) {
      return;
    }
    if (form.hasAttribute("data-sending")) {
      event.preventDefault();
      return;
    }
    form.setAttribute("data-sending", "");
  });
  // Coming back to a page kept in the browser's cache: its forms may go again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) {
      document.querySelectorAll("form[data-sending]").forEach(function (form) {
        form.removeAttribute("data-sending");
      });
    }
  });
})();
